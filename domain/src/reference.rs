//! Organisational reference data: the 12 probation regions and 108 Probation Delivery Units
//! (PDUs) of the unified service, the nation each is in, and the providers of the Transforming
//! Rehabilitation era (NPS and named CRCs).
//!
//! Source: seed-digest §6a, from the TOM Annex C numbering (seed 003 l.3537–3707, Fig. 19
//! l.2094–2137; 108 PDUs in 12 regions, 003 l.2192, l.2086). PDU names are the Annex C names
//! without the parenthesised list of areas each covers; `[sic]` spellings in those lists are not
//! part of any name kept here. Region H is Wales; every other region is in England.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::ValueError;
use crate::identity::string_newtype;

/// Number of PDUs (seed 003 l.2192).
pub const PDUS_COUNT: u32 = 108;
/// Number of regions: 11 in England and Wales as one (seed 003 l.2086, l.3494).
pub const REGIONS_COUNT: u32 = 12;
/// Longest CRC name, in characters.
pub const CRC_NAME_CHARS_MAX: u32 = 120;

/// England or Wales: rules differ by nation (Wales unified sentence management at the end of
/// 2019, seed 003 l.216; OMiC case management began in Wales in February 2019, 003 l.313).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Nation {
    England,
    Wales,
}

impl Nation {
    pub fn as_str(self) -> &'static str {
        match self {
            Nation::England => "England",
            Nation::Wales => "Wales",
        }
    }
}

/// The 12 probation regions, lettered as in seed-digest §6a.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Region {
    A,
    B,
    C,
    D,
    E,
    F,
    G,
    H,
    I,
    J,
    K,
    L,
}

impl Region {
    pub const ALL: [Region; 12] = [
        Region::A,
        Region::B,
        Region::C,
        Region::D,
        Region::E,
        Region::F,
        Region::G,
        Region::H,
        Region::I,
        Region::J,
        Region::K,
        Region::L,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Region::A => "North East",
            Region::B => "Yorkshire & the Humber",
            Region::C => "East Midlands",
            Region::D => "East of England",
            Region::E => "Kent, Surrey & Sussex",
            Region::F => "South Central",
            Region::G => "South West",
            Region::H => "Wales",
            Region::I => "West Midlands",
            Region::J => "Greater Manchester",
            Region::K => "North West",
            Region::L => "London",
        }
    }

    /// Region H is Wales (seed-digest §6a); the rest are English.
    pub fn nation(self) -> Nation {
        match self {
            Region::H => Nation::Wales,
            _ => Nation::England,
        }
    }

    pub fn parse(code: &str) -> Result<Region, ValueError> {
        Region::ALL
            .into_iter()
            .find(|r| r.code() == code)
            .ok_or_else(|| ValueError::RegionCode(code.chars().take(8).collect()))
    }

    pub fn code(self) -> &'static str {
        match self {
            Region::A => "A",
            Region::B => "B",
            Region::C => "C",
            Region::D => "D",
            Region::E => "E",
            Region::F => "F",
            Region::G => "G",
            Region::H => "H",
            Region::I => "I",
            Region::J => "J",
            Region::K => "K",
            Region::L => "L",
        }
    }
}

/// One PDU of the reference table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PduInfo {
    pub number: u8,
    pub region: Region,
    pub name: &'static str,
}

/// The 108 PDUs with their Annex C numbers, in the order seed-digest §6a lists them.
pub const PDUS: [PduInfo; 108] = [
    PduInfo {
        number: 25,
        region: Region::A,
        name: "County Durham and Darlington",
    },
    PduInfo {
        number: 26,
        region: Region::A,
        name: "Gateshead and South Tyneside",
    },
    PduInfo {
        number: 27,
        region: Region::A,
        name: "Stockton and Hartlepool",
    },
    PduInfo {
        number: 28,
        region: Region::A,
        name: "Sunderland",
    },
    PduInfo {
        number: 29,
        region: Region::A,
        name: "Redcar, Cleveland and Middlesbrough",
    },
    PduInfo {
        number: 30,
        region: Region::A,
        name: "Newcastle Upon Tyne",
    },
    PduInfo {
        number: 31,
        region: Region::A,
        name: "North Tyneside and Northumberland",
    },
    PduInfo {
        number: 14,
        region: Region::B,
        name: "Barnsley and Rotherham",
    },
    PduInfo {
        number: 15,
        region: Region::B,
        name: "Sheffield",
    },
    PduInfo {
        number: 16,
        region: Region::B,
        name: "Doncaster",
    },
    PduInfo {
        number: 17,
        region: Region::B,
        name: "Leeds",
    },
    PduInfo {
        number: 18,
        region: Region::B,
        name: "Wakefield",
    },
    PduInfo {
        number: 19,
        region: Region::B,
        name: "Kirklees",
    },
    PduInfo {
        number: 20,
        region: Region::B,
        name: "Bradford and Calderdale",
    },
    PduInfo {
        number: 21,
        region: Region::B,
        name: "York",
    },
    PduInfo {
        number: 22,
        region: Region::B,
        name: "North Yorkshire",
    },
    PduInfo {
        number: 23,
        region: Region::B,
        name: "Hull and East Riding",
    },
    PduInfo {
        number: 24,
        region: Region::B,
        name: "North and North East Lincolnshire",
    },
    PduInfo {
        number: 79,
        region: Region::C,
        name: "Nottingham City",
    },
    PduInfo {
        number: 80,
        region: Region::C,
        name: "Nottinghamshire",
    },
    PduInfo {
        number: 81,
        region: Region::C,
        name: "Derby City",
    },
    PduInfo {
        number: 82,
        region: Region::C,
        name: "Derbyshire",
    },
    PduInfo {
        number: 83,
        region: Region::C,
        name: "Leicester, Leicestershire and Rutland",
    },
    PduInfo {
        number: 84,
        region: Region::C,
        name: "East and West Lincolnshire",
    },
    PduInfo {
        number: 6,
        region: Region::D,
        name: "Essex North",
    },
    PduInfo {
        number: 7,
        region: Region::D,
        name: "Essex South",
    },
    PduInfo {
        number: 8,
        region: Region::D,
        name: "Suffolk",
    },
    PduInfo {
        number: 9,
        region: Region::D,
        name: "Norfolk",
    },
    PduInfo {
        number: 10,
        region: Region::D,
        name: "Hertfordshire",
    },
    PduInfo {
        number: 11,
        region: Region::D,
        name: "Northamptonshire",
    },
    PduInfo {
        number: 12,
        region: Region::D,
        name: "Bedfordshire",
    },
    PduInfo {
        number: 13,
        region: Region::D,
        name: "Cambridgeshire",
    },
    PduInfo {
        number: 1,
        region: Region::E,
        name: "East Kent",
    },
    PduInfo {
        number: 2,
        region: Region::E,
        name: "West Kent",
    },
    PduInfo {
        number: 3,
        region: Region::E,
        name: "Surrey",
    },
    PduInfo {
        number: 4,
        region: Region::E,
        name: "East Sussex",
    },
    PduInfo {
        number: 5,
        region: Region::E,
        name: "West Sussex",
    },
    PduInfo {
        number: 63,
        region: Region::F,
        name: "Hampshire North and East",
    },
    PduInfo {
        number: 64,
        region: Region::F,
        name: "Hampshire South West",
    },
    PduInfo {
        number: 65,
        region: Region::F,
        name: "Hampshire South and Isle of Wight",
    },
    PduInfo {
        number: 66,
        region: Region::F,
        name: "Oxfordshire",
    },
    PduInfo {
        number: 67,
        region: Region::F,
        name: "Buckinghamshire and Milton Keynes",
    },
    PduInfo {
        number: 68,
        region: Region::F,
        name: "East Berkshire",
    },
    PduInfo {
        number: 69,
        region: Region::F,
        name: "West Berkshire",
    },
    PduInfo {
        number: 54,
        region: Region::G,
        name: "Gloucestershire",
    },
    PduInfo {
        number: 55,
        region: Region::G,
        name: "Swindon and Wiltshire",
    },
    PduInfo {
        number: 56,
        region: Region::G,
        name: "Dorset",
    },
    PduInfo {
        number: 57,
        region: Region::G,
        name: "Bristol and South Gloucestershire",
    },
    PduInfo {
        number: 58,
        region: Region::G,
        name: "Plymouth",
    },
    PduInfo {
        number: 59,
        region: Region::G,
        name: "Cornwall and Isles of Scilly",
    },
    PduInfo {
        number: 60,
        region: Region::G,
        name: "Devon and Torbay",
    },
    PduInfo {
        number: 61,
        region: Region::G,
        name: "Somerset",
    },
    PduInfo {
        number: 62,
        region: Region::G,
        name: "Bath and North Somerset",
    },
    PduInfo {
        number: 103,
        region: Region::H,
        name: "North Wales",
    },
    PduInfo {
        number: 104,
        region: Region::H,
        name: "Gwent",
    },
    PduInfo {
        number: 105,
        region: Region::H,
        name: "Dyfed Powys",
    },
    PduInfo {
        number: 106,
        region: Region::H,
        name: "Cardiff and the Vale of Glamorgan",
    },
    PduInfo {
        number: 107,
        region: Region::H,
        name: "Swansea, Neath Port Talbot",
    },
    PduInfo {
        number: 108,
        region: Region::H,
        name: "Cwm Taf Morgannwg",
    },
    PduInfo {
        number: 70,
        region: Region::I,
        name: "Birmingham North, East and Solihull",
    },
    PduInfo {
        number: 71,
        region: Region::I,
        name: "Birmingham Central and South",
    },
    PduInfo {
        number: 72,
        region: Region::I,
        name: "Dudley and Sandwell",
    },
    PduInfo {
        number: 73,
        region: Region::I,
        name: "Walsall and Wolverhampton",
    },
    PduInfo {
        number: 74,
        region: Region::I,
        name: "Coventry",
    },
    PduInfo {
        number: 75,
        region: Region::I,
        name: "Warwickshire",
    },
    PduInfo {
        number: 76,
        region: Region::I,
        name: "Staffordshire and Stoke",
    },
    PduInfo {
        number: 77,
        region: Region::I,
        name: "Worcestershire",
    },
    PduInfo {
        number: 78,
        region: Region::I,
        name: "Herefordshire, Shropshire and Telford",
    },
    PduInfo {
        number: 32,
        region: Region::J,
        name: "Salford",
    },
    PduInfo {
        number: 33,
        region: Region::J,
        name: "Manchester North",
    },
    PduInfo {
        number: 34,
        region: Region::J,
        name: "Manchester South",
    },
    PduInfo {
        number: 35,
        region: Region::J,
        name: "Bolton",
    },
    PduInfo {
        number: 36,
        region: Region::J,
        name: "Wigan",
    },
    PduInfo {
        number: 37,
        region: Region::J,
        name: "Bury and Rochdale",
    },
    PduInfo {
        number: 38,
        region: Region::J,
        name: "Stockport and Trafford",
    },
    PduInfo {
        number: 39,
        region: Region::J,
        name: "Tameside",
    },
    PduInfo {
        number: 40,
        region: Region::J,
        name: "Oldham",
    },
    PduInfo {
        number: 41,
        region: Region::K,
        name: "West Cheshire",
    },
    PduInfo {
        number: 42,
        region: Region::K,
        name: "East Cheshire",
    },
    PduInfo {
        number: 43,
        region: Region::K,
        name: "Warrington and Halton",
    },
    PduInfo {
        number: 44,
        region: Region::K,
        name: "Knowsley and St Helens",
    },
    PduInfo {
        number: 45,
        region: Region::K,
        name: "Sefton",
    },
    PduInfo {
        number: 46,
        region: Region::K,
        name: "Liverpool North",
    },
    PduInfo {
        number: 47,
        region: Region::K,
        name: "Liverpool South",
    },
    PduInfo {
        number: 48,
        region: Region::K,
        name: "Cumbria",
    },
    PduInfo {
        number: 49,
        region: Region::K,
        name: "Wirral",
    },
    PduInfo {
        number: 50,
        region: Region::K,
        name: "North West Lancashire",
    },
    PduInfo {
        number: 51,
        region: Region::K,
        name: "Blackburn",
    },
    PduInfo {
        number: 52,
        region: Region::K,
        name: "East Lancashire",
    },
    PduInfo {
        number: 53,
        region: Region::K,
        name: "Central Lancashire",
    },
    PduInfo {
        number: 85,
        region: Region::L,
        name: "Greenwich and Bexley",
    },
    PduInfo {
        number: 86,
        region: Region::L,
        name: "Lewisham and Bromley",
    },
    PduInfo {
        number: 87,
        region: Region::L,
        name: "Southwark",
    },
    PduInfo {
        number: 88,
        region: Region::L,
        name: "Lambeth",
    },
    PduInfo {
        number: 89,
        region: Region::L,
        name: "Croydon",
    },
    PduInfo {
        number: 90,
        region: Region::L,
        name: "Kingston, Richmond and Hounslow",
    },
    PduInfo {
        number: 91,
        region: Region::L,
        name: "Hammersmith, Fulham, Kensington, Chelsea and Westminster",
    },
    PduInfo {
        number: 92,
        region: Region::L,
        name: "Camden and Islington",
    },
    PduInfo {
        number: 93,
        region: Region::L,
        name: "Ealing and Hillingdon",
    },
    PduInfo {
        number: 94,
        region: Region::L,
        name: "Wandsworth, Merton and Sutton",
    },
    PduInfo {
        number: 95,
        region: Region::L,
        name: "Brent",
    },
    PduInfo {
        number: 96,
        region: Region::L,
        name: "Harrow and Barnet",
    },
    PduInfo {
        number: 97,
        region: Region::L,
        name: "Hackney and City",
    },
    PduInfo {
        number: 98,
        region: Region::L,
        name: "Tower Hamlets",
    },
    PduInfo {
        number: 99,
        region: Region::L,
        name: "Enfield and Haringey",
    },
    PduInfo {
        number: 100,
        region: Region::L,
        name: "Newham",
    },
    PduInfo {
        number: 101,
        region: Region::L,
        name: "Redbridge and Waltham Forest",
    },
    PduInfo {
        number: 102,
        region: Region::L,
        name: "Barking, Dagenham and Havering",
    },
];

/// A PDU, by its Annex C number (1..=108). Only numbers in [`PDUS`] can be constructed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub struct Pdu(u8);

impl Pdu {
    pub fn new(number: u32) -> Result<Pdu, ValueError> {
        PDUS.iter()
            .find(|p| u32::from(p.number) == number)
            .map(|p| Pdu(p.number))
            .ok_or(ValueError::PduNumber(number))
    }
    pub fn number(self) -> u8 {
        self.0
    }
    pub fn info(self) -> PduInfo {
        // Construction guarantees the number is in the table; fall back to the first row
        // rather than panic if that ever stopped being true (asserted in tests).
        let found = PDUS.iter().find(|p| p.number == self.0);
        debug_assert!(found.is_some(), "PDU {} not in table", self.0);
        *found.unwrap_or(&PDUS[0])
    }
    pub fn name(self) -> &'static str {
        self.info().name
    }
    pub fn region(self) -> Region {
        self.info().region
    }
    pub fn nation(self) -> Nation {
        self.region().nation()
    }
}

impl TryFrom<u8> for Pdu {
    type Error = ValueError;
    fn try_from(v: u8) -> Result<Pdu, ValueError> {
        Pdu::new(u32::from(v))
    }
}

impl From<Pdu> for u8 {
    fn from(p: Pdu) -> u8 {
        p.0
    }
}

impl fmt::Display for Pdu {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PDU {} {}", self.0, self.name())
    }
}

string_newtype!(
    /// Name of a Community Rehabilitation Company. The seeds name only a few of the 21 (later 19)
    /// CRCs (seed 002 l.37; 003 l.3444), so any printable name is accepted; [`NAMED_CRCS`] lists
    /// those the seeds name.
    CrcName,
    |s| {
        if s.trim().is_empty() {
            return Err(ValueError::Empty { field: "CRC name" });
        }
        let len = u32::try_from(s.chars().count()).unwrap_or(u32::MAX);
        if len > CRC_NAME_CHARS_MAX {
            return Err(ValueError::TooLong { field: "CRC name", len, max: CRC_NAME_CHARS_MAX });
        }
        if let Some(found) = s.chars().find(|c| c.is_control()) {
            return Err(ValueError::BadCharacter { field: "CRC name", found, allowed: "printable characters" });
        }
        Ok(())
    }
);

/// CRCs the seeds name: DLNR CRC (Derbyshire, Leicestershire, Nottinghamshire and Rutland,
/// seed 001 l.10) and the CRC run by People Plus in Herefordshire / West Mercia (seed 000 l.7).
pub const NAMED_CRCS: [&str; 2] = ["DLNR CRC", "People Plus (West Mercia CRC)"];

/// Who manages a case. Under Transforming Rehabilitation (1 Jun 2014 – 25 Jun 2021) either the
/// National Probation Service or a CRC (BR-A3–A5, seed 000 l.8–9, 001 l.25–26). From 26 Jun 2021
/// the NPS is the single service for all risk levels (seed 003 l.358, l.3472), so a unified case
/// is managed by `Nps`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Provider {
    Nps,
    Crc(CrcName),
}

impl Provider {
    pub fn is_crc(&self) -> bool {
        matches!(self, Provider::Crc(_))
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Provider::Nps => f.write_str("NPS"),
            Provider::Crc(name) => write!(f, "CRC {name}"),
        }
    }
}

/// The organisation of the actor a command comes from, where a rule depends on it (e.g. only
/// the NPS confirms RoSH in the TR era, BR-A11 seed 001 l.68). The commands crate maps the
/// actor's organisation onto this; the domain never sees actor ids or roles.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Organisation {
    Nps,
    Crc(CrcName),
    Prison,
    Court,
    ParoleBoard,
    MappaPanel,
    Other,
}

impl fmt::Display for Organisation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Organisation::Nps => f.write_str("NPS"),
            Organisation::Crc(name) => write!(f, "CRC {name}"),
            Organisation::Prison => f.write_str("prison"),
            Organisation::Court => f.write_str("court"),
            Organisation::ParoleBoard => f.write_str("Parole Board"),
            Organisation::MappaPanel => f.write_str("MAPPA panel"),
            Organisation::Other => f.write_str("another organisation"),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn reference_data_has_108_pdus_in_12_regions_numbered_once_each() {
        assert_eq!(PDUS.len() as u32, PDUS_COUNT);
        let mut per_region: BTreeMap<Region, u32> = BTreeMap::new();
        for p in PDUS {
            *per_region.entry(p.region).or_default() += 1;
        }
        assert_eq!(per_region.len() as u32, REGIONS_COUNT);
        let expected = [
            (Region::A, 7),
            (Region::B, 11),
            (Region::C, 6),
            (Region::D, 8),
            (Region::E, 5),
            (Region::F, 7),
            (Region::G, 9),
            (Region::H, 6),
            (Region::I, 9),
            (Region::J, 9),
            (Region::K, 13),
            (Region::L, 18),
        ];
        for (region, count) in expected {
            assert_eq!(per_region[&region], count, "region {region:?}");
        }
        let mut numbers: Vec<u8> = PDUS.iter().map(|p| p.number).collect();
        numbers.sort_unstable();
        assert_eq!(numbers, (1..=108).collect::<Vec<u8>>());
    }

    #[test]
    fn pdu_numbers_outside_the_table_cannot_be_constructed() {
        assert_eq!(Pdu::new(0), Err(ValueError::PduNumber(0)));
        assert_eq!(Pdu::new(109), Err(ValueError::PduNumber(109)));
        let p = Pdu::new(78).unwrap();
        assert_eq!(p.name(), "Herefordshire, Shropshire and Telford");
        assert_eq!(p.region(), Region::I);
        assert!(serde_json::from_str::<Pdu>("109").is_err());
        assert_eq!(serde_json::from_str::<Pdu>("78").unwrap(), p);
    }

    #[test]
    fn region_h_is_wales_and_every_other_region_is_england() {
        for r in Region::ALL {
            let expected = if r == Region::H {
                Nation::Wales
            } else {
                Nation::England
            };
            assert_eq!(r.nation(), expected);
            assert_eq!(Region::parse(r.code()), Ok(r));
        }
        assert!(Region::parse("M").is_err());
        assert_eq!(Pdu::new(106).unwrap().nation(), Nation::Wales);
        assert_eq!(Pdu::new(79).unwrap().name(), "Nottingham City");
    }

    #[test]
    fn crc_names_are_validated() {
        for n in NAMED_CRCS {
            assert!(CrcName::new(n).is_ok());
        }
        assert!(CrcName::new(" ").is_err());
        assert!(CrcName::new("x".repeat(121)).is_err());
    }
}
