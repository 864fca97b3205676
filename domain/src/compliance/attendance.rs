//! Appointment outcome classes (enforcement-and-workload.md §5.2; HMS
//! `sentence.service.ts`).

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AttendanceClass {
    /// Complied and attended.
    Complied,
    /// Complied, did not attend (absence accepted).
    AcceptableAbsence,
    /// Attended but did not comply (contact outcome `AFTC`).
    FailedToComply,
    /// Did not attend and did not comply.
    UnacceptableAbsence,
}

impl AttendanceClass {
    /// §5.2 table: complied? × attended?.
    pub fn classify(complied: bool, attended: bool) -> Self {
        match (complied, attended) {
            (true, true) => AttendanceClass::Complied,
            (true, false) => AttendanceClass::AcceptableAbsence,
            (false, true) => AttendanceClass::FailedToComply,
            (false, false) => AttendanceClass::UnacceptableAbsence,
        }
    }

    /// Counts towards the failure-to-comply total of §5.1 / §5.5: every outcome whose
    /// "complied?" is no (§5.2), i.e. a failure to comply or an unacceptable absence.
    pub fn counts_as_failure_to_comply(self) -> bool {
        matches!(
            self,
            AttendanceClass::FailedToComply | AttendanceClass::UnacceptableAbsence
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// §5.2: the four classes.
    #[test]
    fn compliance_5_2_attendance_classes() {
        use AttendanceClass::*;
        assert_eq!(AttendanceClass::classify(true, true), Complied);
        assert_eq!(AttendanceClass::classify(true, false), AcceptableAbsence);
        assert_eq!(AttendanceClass::classify(false, true), FailedToComply);
        assert_eq!(AttendanceClass::classify(false, false), UnacceptableAbsence);
        let counted: Vec<_> = [
            Complied,
            AcceptableAbsence,
            FailedToComply,
            UnacceptableAbsence,
        ]
        .into_iter()
        .filter(|c| c.counts_as_failure_to_comply())
        .collect();
        assert_eq!(counted, [FailedToComply, UnacceptableAbsence]);
        assert_eq!(
            serde_json::to_string(&AcceptableAbsence).unwrap(),
            "\"acceptable-absence\""
        );
    }
}
