// SPDX-License-Identifier: MIT
//! 8-bit planes with explicit strides, their validation and row access.
use std::ops::Range;

/// One component of a frame: `width × height` 8-bit samples, sample `(x, y)` at
/// `data[y * stride + x * pixel_stride]`.
///
/// Planar data (I420 planes, GBR planes, grey) has `pixel_stride == 1`: build it with
/// [`Plane::new`]. One component of packed data (RGB, RGBx, BGRx…) is addressed in place with
/// `pixel_stride` = bytes per pixel and `data` starting at the component's first byte: build it
/// with [`Plane::packed`] or [`Plane::interleaved`]. Metrics read packed components through a
/// per-thread row buffer; planar data is read in place.
///
/// The fields are public so that a plane can be written as a literal; every metric validates its
/// planes ([`Plane::validate`]) before reading them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plane<'a> {
    /// The samples; it may end right after the last sample (no padding needed after the last row).
    pub data: &'a [u8],
    /// Samples per row.
    pub width: usize,
    /// Rows.
    pub height: usize,
    /// Bytes from the start of one row to the start of the next.
    pub stride: usize,
    /// Bytes from one sample to the next in a row: 1 for planar data, the pixel size for a
    /// component of packed data.
    pub pixel_stride: usize,
}

impl<'a> Plane<'a> {
    /// A planar plane (`pixel_stride` 1) with rows `stride` bytes apart.
    pub fn new(
        data: &'a [u8],
        width: usize,
        height: usize,
        stride: usize,
    ) -> Result<Self, MetricsError> {
        Self::interleaved(data, width, height, stride, 1, 0)
    }

    /// A planar plane with rows packed back to back (`stride == width`).
    pub fn contiguous(data: &'a [u8], width: usize, height: usize) -> Result<Self, MetricsError> {
        Self::new(data, width, height, width)
    }

    /// The component at byte `offset` of each pixel of interleaved data whose pixels are
    /// `pixel_stride` bytes apart and rows `stride` bytes apart.
    pub fn interleaved(
        data: &'a [u8],
        width: usize,
        height: usize,
        stride: usize,
        pixel_stride: usize,
        offset: usize,
    ) -> Result<Self, MetricsError> {
        let plane = Plane {
            data: data.get(offset..).unwrap_or(&[]),
            width,
            height,
            stride,
            pixel_stride,
        };
        plane.validate(0)?;
        Ok(plane)
    }

    /// The `N` components at byte offsets `offsets` of packed pixels, e.g. `[0, 1, 2]` for the R,
    /// G, B of `RGB`/`RGBx` (`pixel_stride` 3 / 4) or `[2, 1, 0]` for the R, G, B of `BGRx`.
    ///
    /// Errors name the component (its index in `offsets`) as the plane.
    pub fn packed<const N: usize>(
        data: &'a [u8],
        width: usize,
        height: usize,
        stride: usize,
        pixel_stride: usize,
        offsets: [usize; N],
    ) -> Result<[Self; N], MetricsError> {
        let mut planes = [Plane {
            data: &[],
            width,
            height,
            stride,
            pixel_stride,
        }; N];
        for (i, (plane, &offset)) in planes.iter_mut().zip(offsets.iter()).enumerate() {
            if offset >= pixel_stride {
                return Err(MetricsError::InvalidLayout {
                    plane: i,
                    reason: "component offset must be smaller than the pixel stride",
                });
            }
            plane.data = data.get(offset..).unwrap_or(&[]);
            plane.validate(i)?;
        }
        Ok(planes)
    }

    /// Number of samples, `width * height`.
    pub fn area(&self) -> usize {
        self.width * self.height
    }

    /// Checks that the layout is usable and that `data` holds every sample; `index` is the plane
    /// index reported in the error.
    pub fn validate(&self, index: usize) -> Result<(), MetricsError> {
        let invalid = |reason| MetricsError::InvalidLayout {
            plane: index,
            reason,
        };
        if self.width == 0 || self.height == 0 {
            return Err(invalid("empty plane"));
        }
        if self.pixel_stride == 0 {
            return Err(invalid("pixel stride is 0"));
        }
        let row_span = (self.width - 1)
            .checked_mul(self.pixel_stride)
            .and_then(|s| s.checked_add(1))
            .ok_or(invalid("row size overflows"))?;
        if self.height > 1 && self.stride < row_span {
            return Err(invalid("stride is smaller than a row: rows overlap"));
        }
        let needed = (self.height - 1)
            .checked_mul(self.stride)
            .and_then(|s| s.checked_add(row_span))
            .ok_or(invalid("plane size overflows"))?;
        if self.data.len() < needed {
            return Err(MetricsError::BufferTooSmall {
                plane: index,
                needed,
                len: self.data.len(),
            });
        }
        Ok(())
    }
}

/// Why a metric could not be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetricsError {
    /// A frame has no plane.
    #[error("frame has no plane")]
    NoPlanes,
    /// Two frames do not have the same number of planes.
    #[error("frames have {expected} and {found} planes")]
    PlaneCountMismatch {
        /// Planes of the first frame.
        expected: usize,
        /// Planes of the other frame.
        found: usize,
    },
    /// A plane does not have the same size as the corresponding plane of the first frame.
    #[error(
        "plane {plane} is {}x{} in one frame and {}x{} in another",
        expected.0,
        expected.1,
        found.0,
        found.1
    )]
    SizeMismatch {
        /// Plane index.
        plane: usize,
        /// `(width, height)` of the first frame's plane.
        expected: (usize, usize),
        /// `(width, height)` of the other frame's plane.
        found: (usize, usize),
    },
    /// A plane's layout is unusable.
    #[error("plane {plane}: invalid layout: {reason}")]
    InvalidLayout {
        /// Plane index.
        plane: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// A plane's `data` is shorter than its layout needs.
    #[error("plane {plane}: buffer holds {len} bytes, layout needs {needed}")]
    BufferTooSmall {
        /// Plane index.
        plane: usize,
        /// Bytes needed.
        needed: usize,
        /// Bytes given.
        len: usize,
    },
    /// A plane is smaller than the metric's window.
    #[error(
        "plane {plane} is {}x{}, smaller than the metric's minimum {}x{}",
        size.0,
        size.1,
        min.0,
        min.1
    )]
    TooSmall {
        /// Plane index.
        plane: usize,
        /// `(width, height)` of the plane.
        size: (usize, usize),
        /// Minimum `(width, height)`.
        min: (usize, usize),
    },
}

/// Validates the planes of frames that are compared plane by plane: same plane count, same size
/// per plane index, valid layouts; and each plane at least `min` (width, height).
pub(crate) fn check_frames(
    frames: &[&[Plane<'_>]],
    min: (usize, usize),
) -> Result<(), MetricsError> {
    let sizes: Vec<Vec<(usize, usize)>> = frames
        .iter()
        .map(|f| f.iter().map(|p| (p.width, p.height)).collect())
        .collect();
    check_sizes(&sizes, min)?;
    for frame in frames {
        for (i, p) in frame.iter().enumerate() {
            p.validate(i)?;
        }
    }
    Ok(())
}

/// The size rules of [`check_frames`] on plane sizes alone (shared with the high-depth metrics):
/// at least one plane, the same plane count and per-index size in every frame, each plane at
/// least `min`.
pub(crate) fn check_sizes(
    frames: &[Vec<(usize, usize)>],
    min: (usize, usize),
) -> Result<(), MetricsError> {
    let first = frames.first().map(Vec::as_slice).unwrap_or(&[]);
    if first.is_empty() {
        return Err(MetricsError::NoPlanes);
    }
    for frame in frames {
        if frame.len() != first.len() {
            return Err(MetricsError::PlaneCountMismatch {
                expected: first.len(),
                found: frame.len(),
            });
        }
        for (i, (&p, &q)) in first.iter().zip(frame).enumerate() {
            if p != q {
                return Err(MetricsError::SizeMismatch {
                    plane: i,
                    expected: p,
                    found: q,
                });
            }
        }
    }
    for (i, &size) in first.iter().enumerate() {
        if size.0 < min.0 || size.1 < min.1 {
            return Err(MetricsError::TooSmall {
                plane: i,
                size,
                min,
            });
        }
    }
    Ok(())
}

/// Contiguous access to the rows of a validated plane. Planar rows are borrowed in place; rows of
/// packed components are gathered into a ring of `capacity` row buffers, so that a sliding window
/// of up to `capacity` rows gathers each row once.
pub(crate) struct Rows<'a> {
    plane: Plane<'a>,
    ring: Vec<u8>,
    held: Vec<usize>,
}

impl<'a> Rows<'a> {
    /// Row access for `plane` (already validated), `capacity` rows at a time.
    pub(crate) fn new(plane: Plane<'a>, capacity: usize) -> Self {
        let (ring, held) = if plane.pixel_stride == 1 {
            (Vec::new(), Vec::new())
        } else {
            (vec![0; capacity * plane.width], vec![usize::MAX; capacity])
        };
        Rows { plane, ring, held }
    }

    /// Makes rows `ys` (at most `capacity` of them) available to [`Rows::row`].
    pub(crate) fn load(&mut self, ys: Range<usize>) {
        if self.held.is_empty() {
            return;
        }
        let (w, ps, stride) = (self.plane.width, self.plane.pixel_stride, self.plane.stride);
        let slots = self.held.len();
        for y in ys {
            let slot = y % slots;
            if self.held[slot] == y {
                continue;
            }
            let src = &self.plane.data[y * stride..];
            gather(&mut self.ring[slot * w..(slot + 1) * w], src, ps);
            self.held[slot] = y;
        }
    }

    /// Row `y`, which must be loaded if the plane is packed.
    pub(crate) fn row(&self, y: usize) -> &[u8] {
        let w = self.plane.width;
        if self.held.is_empty() {
            let start = y * self.plane.stride;
            &self.plane.data[start..start + w]
        } else {
            let slot = y % self.held.len();
            debug_assert_eq!(self.held[slot], y, "row {y} not loaded");
            &self.ring[slot * w..(slot + 1) * w]
        }
    }
}

/// `dst[i] = src[i * pixel_stride]`, specialised for the usual pixel sizes.
pub(crate) fn gather(dst: &mut [u8], src: &[u8], pixel_stride: usize) {
    match pixel_stride {
        1 => dst.copy_from_slice(&src[..dst.len()]),
        // Whole 2- and 4-byte pixels read as little-endian words and truncated: vectorises.
        2 => gather_n::<2>(dst, src, |p| u16::from_le_bytes([p[0], p[1]]) as u8),
        3 => gather_n::<3>(dst, src, |p| p[0]),
        4 => gather_n::<4>(dst, src, |p| {
            u32::from_le_bytes([p[0], p[1], p[2], p[3]]) as u8
        }),
        _ => {
            for (d, s) in dst.iter_mut().zip(src.iter().step_by(pixel_stride)) {
                *d = *s;
            }
        }
    }
}

/// `dst[i] = first(pixel i)` for pixels of `N` bytes.
#[inline(always)]
fn gather_n<const N: usize>(dst: &mut [u8], src: &[u8], first: impl Fn(&[u8]) -> u8) {
    // The last sample of a plane may be the last byte of its buffer: a partial pixel.
    let whole = dst.len().min(src.len() / N);
    let (head, tail) = dst.split_at_mut(whole);
    for (d, p) in head.iter_mut().zip(src.chunks_exact(N)) {
        *d = first(p);
    }
    for (i, d) in tail.iter_mut().enumerate() {
        *d = src[(whole + i) * N];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation() {
        let data = [0u8; 12];
        assert!(Plane::new(&data, 4, 3, 4).is_ok());
        // The last row needs no padding: 2 * 5 + 3 = 13 bytes.
        assert!(Plane::new(&[0u8; 13], 3, 3, 5).is_ok());
        assert_eq!(
            Plane::new(&data, 4, 3, 5),
            Err(MetricsError::BufferTooSmall {
                plane: 0,
                needed: 14,
                len: 12
            })
        );
        assert!(matches!(
            Plane::new(&data, 4, 3, 3),
            Err(MetricsError::InvalidLayout { .. })
        ));
        assert!(matches!(
            Plane::new(&data, 0, 3, 3),
            Err(MetricsError::InvalidLayout { .. })
        ));
        // RGB 2x2 with a 7-byte stride: the last row needs 6 bytes.
        let rgb = [0u8; 13];
        let [r, g, b] = Plane::packed(&rgb, 2, 2, 7, 3, [0, 1, 2]).expect("valid");
        assert_eq!((r.data.len(), g.data.len(), b.data.len()), (13, 12, 11));
        assert!(Plane::packed(&rgb[..12], 2, 2, 7, 3, [0, 1, 2]).is_err());
        assert!(Plane::packed(&rgb, 2, 2, 7, 3, [0, 1, 3]).is_err());
    }

    #[test]
    fn packed_rows_are_gathered() {
        let rgb: Vec<u8> = (0..2 * 8).map(|v| v as u8).collect(); // 2x2 RGBx, stride 8
        let [_, g, _] = Plane::packed(&rgb, 2, 2, 8, 4, [0, 1, 2]).expect("valid");
        let mut rows = Rows::new(g, 2);
        rows.load(0..2);
        assert_eq!(rows.row(0), &[1, 5]);
        assert_eq!(rows.row(1), &[9, 13]);
    }
}
