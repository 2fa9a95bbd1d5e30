//! Pixel payloads: slices of a 3-D head-like phantom with deterministic noise, 16-bit little
//! endian with 12 bits stored, so viewers and converters see a plausible volume.

use super::rng::Stream;

/// The largest value a 12-bit pixel may hold.
const MAX_12_BIT: f32 = 4095.0;

/// Slice `slice` of `slices` through the phantom, `rows` x `cols` pixels, as little-endian bytes.
///
/// The phantom is an ellipsoid "skull" with a brighter "brain" and two dark "ventricles"; `seed`
/// only drives the noise, so different seeds give different bytes but the same anatomy.
pub(crate) fn slice(rows: u16, cols: u16, slice: u32, slices: u32, seed: u64) -> Vec<u8> {
    let (rows, cols) = (usize::from(rows), usize::from(cols));
    let mut out = Vec::with_capacity(rows * cols * 2);
    let mut noise = Stream::new(seed);
    // z runs from -1 (first slice) to +1 (last slice).
    let z = if slices <= 1 {
        0.0
    } else {
        2.0 * slice as f32 / (slices - 1) as f32 - 1.0
    };
    let z2 = (z / 0.9) * (z / 0.9);
    for r in 0..rows {
        let y = 2.0 * r as f32 / rows as f32 - 1.0;
        let y2 = (y / 0.92) * (y / 0.92);
        for c in 0..cols {
            let x = 2.0 * c as f32 / cols as f32 - 1.0;
            let head = (x / 0.75) * (x / 0.75) + y2 + z2;
            let brain = (x / 0.66) * (x / 0.66) + (y / 0.83) * (y / 0.83) + z2 / 0.8;
            let ventricle = |cx: f32| ((x - cx) / 0.08).powi(2) + (y / 0.25).powi(2) + z * z / 0.2;
            let base = if head > 1.0 {
                0.0
            } else if brain > 1.0 {
                1900.0 // skull and scalp
            } else if ventricle(-0.12) < 1.0 || ventricle(0.12) < 1.0 {
                350.0
            } else {
                1100.0 + 250.0 * (6.0 * x).sin() * (5.0 * y).cos() // grey/white-like texture
            };
            let n = noise.next_u64();
            // Two 8-bit draws summed: cheap, roughly triangular noise of +-40.
            let jitter = ((n & 0xFF) + ((n >> 8) & 0xFF)) as f32 / 510.0 * 80.0 - 40.0;
            let v = (base + jitter).clamp(0.0, MAX_12_BIT) as u16;
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_and_range() {
        let px = slice(16, 12, 2, 5, 9);
        assert_eq!(px.len(), 16 * 12 * 2);
        let values: Vec<u16> = px
            .chunks(2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
            .collect();
        assert!(values.iter().all(|&v| v <= 4095));
        // The centre of the middle slice is inside the phantom, the corner is background.
        assert!(values[8 * 12 + 6] > 300, "{values:?}");
        assert!(values[0] < 100);
    }

    #[test]
    fn seed_changes_noise_not_size() {
        assert_eq!(slice(8, 8, 0, 3, 1), slice(8, 8, 0, 3, 1));
        assert_ne!(slice(8, 8, 0, 3, 1), slice(8, 8, 0, 3, 2));
    }
}
