use sled::transaction::{ConflictableTransactionError, Transactional};
use std::time::Instant;

fn cpu_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

fn main() {
    let streams = 256u64;
    let events = 51_200u64;
    let batch = 180usize;
    let mut entries = Vec::new();
    for p in 1..=events {
        let s = p % streams;
        let v = p / streams + 1;
        let stream = format!("BENCH-{s}");
        let mut ik = stream.as_bytes().to_vec();
        ik.push(0);
        ik.extend_from_slice(&v.to_be_bytes());
        entries.push((
            p.to_be_bytes().to_vec(),
            vec![(p % 251) as u8; 450],
            ik,
            stream.into_bytes(),
            v.to_be_bytes().to_vec(),
        ));
    }
    for round in 0..3 {
        for variant in ["rs", "rsHT", "rsh", "rshHT"] {
            let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
            let mode = if variant.ends_with("HT") {
                sled::Mode::HighThroughput
            } else {
                sled::Mode::LowSpace
            };
            let variant = variant.trim_end_matches("HT");
            let db = sled::Config::new()
                .path(dir.path())
                .flush_every_ms(None)
                .mode(mode)
                .open()
                .unwrap();
            let log = db.open_tree("log").unwrap();
            let t1 = db.open_tree("a").unwrap();
            let t2 = db.open_tree("b").unwrap();
            let t3 = db.open_tree("c").unwrap();
            let t4 = db.open_tree("d").unwrap();
            let started = Instant::now();
            let c0 = cpu_ticks();
            for chunk in entries.chunks(batch) {
                match variant {
                    "rsh" | "rs" => {
                        let mut b = sled::Batch::default();
                        for (pk, rec, ik, sk, vk) in chunk {
                            let mut k = vec![b'r'];
                            k.extend_from_slice(pk);
                            b.insert(k, rec.as_slice());
                            let mut k = vec![b's'];
                            k.extend_from_slice(ik);
                            b.insert(k, pk.as_slice());
                            if variant == "rsh" {
                                let mut k = vec![b'h'];
                                k.extend_from_slice(sk);
                                b.insert(k, vk.as_slice());
                            }
                        }
                        log.apply_batch(b).unwrap();
                    }
                    "tx4" => {
                        (&t1, &t2, &t3, &t4)
                            .transaction(|(a, b, c, _d)| {
                                for (pk, rec, ik, sk, vk) in chunk {
                                    a.insert(pk.as_slice(), rec.as_slice())?;
                                    b.insert(ik.as_slice(), pk.as_slice())?;
                                    c.insert(sk.as_slice(), vk.as_slice())?;
                                }
                                Ok::<(), ConflictableTransactionError<()>>(())
                            })
                            .unwrap();
                    }
                    _ => {
                        (&t1, &t2)
                            .transaction(|(a, b)| {
                                for (pk, rec, ik, _sk, _vk) in chunk {
                                    a.insert(pk.as_slice(), rec.as_slice())?;
                                    b.insert(ik.as_slice(), pk.as_slice())?;
                                }
                                Ok::<(), ConflictableTransactionError<()>>(())
                            })
                            .unwrap();
                    }
                }
                db.flush().unwrap();
            }
            let el = started.elapsed();
            let cpu = (cpu_ticks() - c0) as f64 / 100.0;
            println!("round {round} {variant:>4} {mode:?}: {:>8.0} events/s  cpu {:.2}s = {:.1} µs/event", events as f64 / el.as_secs_f64(), cpu, cpu * 1e6 / events as f64);
        }
    }
}
