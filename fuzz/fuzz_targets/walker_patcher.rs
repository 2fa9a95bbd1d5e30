#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let buf = anontrack_fuzz::file_from(data);
    let _ = anontrack_fuzz::walker_patcher(&buf);
});
