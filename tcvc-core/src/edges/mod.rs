// SPDX-License-Identifier: MIT
//! Synthetic line art as the TCVC paper and its reference code make it: greyscale, Gaussian blur
//! (σ = 1), Canny, black lines (0) on white (255).
//!
//! Shared by the `tcvclineart` element and the training / evaluation tools: they all call
//! [`Extractor`] so that training data and inference input are made by the same code.
//!
//! Defaults reproduce `skimage.feature.canny(gray, sigma=1)` (thresholds 0.1 / 0.2 of the [0, 1]
//! range, L2 gradient magnitude, Gaussian truncated at 4 σ) on a [0, 255] grey image, computed with
//! OpenCV for speed. Measured on the sample clips: F1 0.98–0.99 at 1 px tolerance.
use opencv::core::{self, Mat, Scalar, Size};
use opencv::prelude::*;
use std::fmt;

/// scikit-image `rgb2gray` weights (ITU-R BT.709 luma) for R, G, B, as integers over 10 000.
pub const RGB2GRAY_WEIGHTS_1E4: [u32; 3] = [2125, 7154, 721];

/// Default Gaussian σ of the blur before Canny (the paper's σ = 1).
pub const DEFAULT_SIGMA: f64 = 1.0;
/// Default low hysteresis threshold: scikit-image's 0.1 on [0, 1] images, in 8-bit units.
pub const DEFAULT_LOW_THRESHOLD: f64 = 25.5;
/// Default high hysteresis threshold: scikit-image's 0.2 on [0, 1] images, in 8-bit units.
pub const DEFAULT_HIGH_THRESHOLD: f64 = 51.0;

/// Canny parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Params {
    /// Gaussian σ in pixels; 0 disables the blur.
    pub sigma: f64,
    /// Low hysteresis threshold on the L2 gradient magnitude of the 8-bit image.
    pub low_threshold: f64,
    /// High hysteresis threshold on the L2 gradient magnitude of the 8-bit image.
    pub high_threshold: f64,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            sigma: DEFAULT_SIGMA,
            low_threshold: DEFAULT_LOW_THRESHOLD,
            high_threshold: DEFAULT_HIGH_THRESHOLD,
        }
    }
}

/// Kernel size used for a Gaussian of `sigma`: radius round(4 σ), as scikit-image's
/// `gaussian(truncate=4)` (9 taps for σ = 1).
pub fn gaussian_kernel_size(sigma: f64) -> i32 {
    2 * (4.0 * sigma).round().max(1.0) as i32 + 1
}

/// An error from the image-processing backend.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("line extraction failed: {0}")]
pub struct EdgeError(pub String);

impl From<opencv::Error> for EdgeError {
    fn from(e: opencv::Error) -> Self {
        EdgeError(e.to_string())
    }
}

/// Reusable working buffers for line extraction at one frame size.
///
/// Buffers are allocated by [`Extractor::resize`] when the size changes and reused for every
/// further frame of that size: no per-frame allocation.
pub struct Extractor {
    width: usize,
    height: usize,
    grey: Mat,
    blurred: Mat,
    edges: Mat,
}

impl Default for Extractor {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Extractor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Extractor")
            .field("width", &self.width)
            .field("height", &self.height)
            .finish()
    }
}

fn new_gray_mat(width: usize, height: usize) -> Result<Mat, EdgeError> {
    let rows =
        i32::try_from(height).map_err(|_| EdgeError(format!("height {height} too large")))?;
    let cols = i32::try_from(width).map_err(|_| EdgeError(format!("width {width} too large")))?;
    Ok(Mat::new_rows_cols_with_default(
        rows,
        cols,
        core::CV_8UC1,
        Scalar::all(0.0),
    )?)
}

impl Extractor {
    /// An extractor with no buffers yet; call [`Extractor::resize`] before use.
    pub fn new() -> Self {
        Extractor {
            width: 0,
            height: 0,
            grey: Mat::default(),
            blurred: Mat::default(),
            edges: Mat::default(),
        }
    }

    /// Frame width the buffers are sized for.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Frame height the buffers are sized for.
    pub fn height(&self) -> usize {
        self.height
    }

    /// Sizes the working buffers for `width` × `height` frames (no-op if already that size).
    pub fn resize(&mut self, width: usize, height: usize) -> Result<(), EdgeError> {
        if width == 0 || height == 0 {
            return Err(EdgeError(format!("empty frame {width}x{height}")));
        }
        if (width, height) != (self.width, self.height) {
            self.grey = new_gray_mat(width, height)?;
            self.blurred = new_gray_mat(width, height)?;
            self.edges = new_gray_mat(width, height)?;
            self.width = width;
            self.height = height;
        }
        Ok(())
    }

    /// The grey input buffer (`width * height` bytes, rows packed), to be filled by the caller,
    /// e.g. with [`copy_plane`] or [`rgb_to_grey`].
    pub fn grey_mut(&mut self) -> &mut [u8] {
        self.grey.data_bytes_mut().unwrap_or(&mut [])
    }

    /// The grey buffer as last filled.
    pub fn grey(&self) -> &[u8] {
        self.grey.data_bytes().unwrap_or(&[])
    }

    /// Runs blur + Canny on the grey buffer; returns the edge map (255 on lines, 0 elsewhere,
    /// `width * height` bytes, rows packed).
    pub fn detect(&mut self, params: &Params) -> Result<&[u8], EdgeError> {
        if self.width == 0 {
            return Err(EdgeError("extractor used before resize()".into()));
        }
        let src = if params.sigma > 0.0 {
            let k = gaussian_kernel_size(params.sigma);
            opencv::imgproc::gaussian_blur(
                &self.grey,
                &mut self.blurred,
                Size::new(k, k),
                params.sigma,
                params.sigma,
                core::BORDER_REFLECT_101,
            )?;
            &self.blurred
        } else {
            &self.grey
        };
        opencv::imgproc::canny(
            src,
            &mut self.edges,
            params.low_threshold,
            params.high_threshold,
            3,
            true,
        )?;
        Ok(self.edges.data_bytes()?)
    }
}

/// The 8-bit grey image of a plane of little-endian 16-bit words holding `depth` bits `shift`
/// bits up (I420_10LE: 10, 0; P010: 10, 6): `v` becomes `(v + 2^(depth−9)) >> (depth − 8)`,
/// clamped to 255 (round half up).
#[allow(clippy::too_many_arguments)]
pub fn deep_to_grey(
    src: &[u8],
    src_stride: usize,
    depth: u32,
    shift: u32,
    dst: &mut [u8],
    dst_stride: usize,
    width: usize,
    height: usize,
) {
    let down = depth.saturating_sub(8);
    let half = if down > 0 { 1u32 << (down - 1) } else { 0 };
    for (s, d) in src
        .chunks(src_stride)
        .zip(dst.chunks_mut(dst_stride))
        .take(height)
    {
        for (x, o) in d[..width].iter_mut().enumerate() {
            let v = u32::from(u16::from_le_bytes([s[2 * x], s[2 * x + 1]])) >> shift;
            *o = ((v + half) >> down).min(255) as u8;
        }
    }
}

/// Copies a `width` × `height` 8-bit plane between buffers of any stride.
pub fn copy_plane(
    src: &[u8],
    src_stride: usize,
    dst: &mut [u8],
    dst_stride: usize,
    width: usize,
    height: usize,
) {
    for (s, d) in src
        .chunks(src_stride)
        .zip(dst.chunks_mut(dst_stride))
        .take(height)
    {
        d[..width].copy_from_slice(&s[..width]);
    }
}

/// Converts packed 8-bit RGB-family pixels to grey with scikit-image's `rgb2gray` weights,
/// rounded to nearest (exactly `(2125 R + 7154 G + 721 B + 5000) / 10000`).
///
/// `pixel_stride` is 3 for RGB/BGR and 4 for the formats with an alpha or padding byte;
/// `offsets` are the byte offsets of R, G and B inside a pixel.
#[allow(clippy::too_many_arguments)]
pub fn rgb_to_grey(
    src: &[u8],
    src_stride: usize,
    pixel_stride: usize,
    offsets: [usize; 3],
    dst: &mut [u8],
    dst_stride: usize,
    width: usize,
    height: usize,
) {
    // One monomorphised loop per layout so that the compiler sees constant offsets and
    // vectorises; any other layout takes the generic loop.
    let row: fn(&[u8], &mut [u8], usize, [usize; 3]) = match (pixel_stride, offsets) {
        (3, [0, 1, 2]) => grey_row::<3, 0, 1, 2>,
        (3, [2, 1, 0]) => grey_row::<3, 2, 1, 0>,
        (4, [0, 1, 2]) => grey_row::<4, 0, 1, 2>,
        (4, [2, 1, 0]) => grey_row::<4, 2, 1, 0>,
        (4, [1, 2, 3]) => grey_row::<4, 1, 2, 3>,
        (4, [3, 2, 1]) => grey_row::<4, 3, 2, 1>,
        _ => grey_row_any,
    };
    for (s, d) in src
        .chunks(src_stride)
        .zip(dst.chunks_mut(dst_stride))
        .take(height)
    {
        row(s, &mut d[..width], pixel_stride, offsets);
    }
}

/// `(2125 R + 7154 G + 721 B + 5000) / 10000`, the division as an exact multiply-shift
/// (`v · ⌈2⁴⁰/10⁴⌉ >> 40` is exact for every `v < 4.9·10⁸`; here `v < 2.6·10⁶`).
#[inline(always)]
fn grey_of(r: u8, g: u8, b: u8) -> u8 {
    let [wr, wg, wb] = RGB2GRAY_WEIGHTS_1E4;
    let v = wr * r as u32 + wg * g as u32 + wb * b as u32 + 5000;
    ((v as u64 * 109_951_163) >> 40) as u8
}

fn grey_row<const PS: usize, const R: usize, const G: usize, const B: usize>(
    s: &[u8],
    d: &mut [u8],
    _ps: usize,
    _o: [usize; 3],
) {
    for (px, out) in s.chunks_exact(PS).zip(d.iter_mut()) {
        *out = grey_of(px[R], px[G], px[B]);
    }
}

fn grey_row_any(s: &[u8], d: &mut [u8], ps: usize, [or, og, ob]: [usize; 3]) {
    for (px, out) in s.chunks_exact(ps).zip(d.iter_mut()) {
        *out = grey_of(px[or], px[og], px[ob]);
    }
}

/// The formats `tcvclineart` takes, in its sink template's order (its preference): the RGB family is converted with scikit-image's `rgb2gray` weights, the YUV
/// family uses its Y plane as is.
pub const GREY_SOURCE_FORMATS: &[gst_video::VideoFormat] = &[
    gst_video::VideoFormat::Gray8,
    gst_video::VideoFormat::Rgb,
    gst_video::VideoFormat::Bgr,
    gst_video::VideoFormat::Rgbx,
    gst_video::VideoFormat::Bgrx,
    gst_video::VideoFormat::Xrgb,
    gst_video::VideoFormat::Xbgr,
    gst_video::VideoFormat::Rgba,
    gst_video::VideoFormat::Bgra,
    gst_video::VideoFormat::Argb,
    gst_video::VideoFormat::Abgr,
    gst_video::VideoFormat::I420,
    gst_video::VideoFormat::Yv12,
    gst_video::VideoFormat::Nv12,
    gst_video::VideoFormat::Nv21,
    gst_video::VideoFormat::Y42b,
    gst_video::VideoFormat::Y444,
    gst_video::VideoFormat::I42010le,
    gst_video::VideoFormat::I42210le,
    gst_video::VideoFormat::P01010le,
];

/// How `tcvclineart` reads the grey image of a negotiated input format (and `tcvc-episode`,
/// which must see exactly what the element sees): the RGB family through scikit-image's
/// `rgb2gray` weights, the YUV family's Y plane as is (10-bit luma rounded to 8 bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GreySource {
    /// Plane 0 is the grey / luma plane.
    Plane0,
    /// Plane 0 is a luma plane of little-endian 16-bit words holding `depth` bits, `shift` bits
    /// up (P010: 10 bits, shift 6); it becomes 8 bits by rounding.
    Plane0Deep {
        /// Bits of the luma value.
        depth: u32,
        /// Bits the value is shifted up in its word.
        shift: u32,
    },
    /// Packed RGB family: bytes per pixel and the offsets of R, G, B.
    Packed {
        /// Bytes per pixel.
        pixel_stride: usize,
        /// Byte offsets of R, G and B in a pixel.
        offsets: [usize; 3],
    },
}

impl GreySource {
    /// The grey source of a GStreamer video format.
    pub fn of_format(finfo: &gst_video::VideoFormatInfo) -> Self {
        if finfo.is_rgb() {
            let po = finfo.poffset();
            GreySource::Packed {
                pixel_stride: finfo.pixel_stride()[0] as usize,
                offsets: [po[0] as usize, po[1] as usize, po[2] as usize],
            }
        } else if finfo.depth()[0] > 8 {
            GreySource::Plane0Deep {
                depth: finfo.depth()[0],
                shift: finfo.shift()[0],
            }
        } else {
            GreySource::Plane0
        }
    }

    /// Writes the `width × height` grey image (packed rows) of plane 0 `src` (rows `src_stride`
    /// bytes apart) into `grey`.
    pub fn read(
        &self,
        src: &[u8],
        src_stride: usize,
        grey: &mut [u8],
        width: usize,
        height: usize,
    ) {
        match *self {
            GreySource::Plane0 => copy_plane(src, src_stride, grey, width, width, height),
            GreySource::Plane0Deep { depth, shift } => {
                deep_to_grey(src, src_stride, depth, shift, grey, width, width, height)
            }
            GreySource::Packed {
                pixel_stride,
                offsets,
            } => rgb_to_grey(
                src,
                src_stride,
                pixel_stride,
                offsets,
                grey,
                width,
                width,
                height,
            ),
        }
    }
}

/// Writes an edge map (255 = line) into an 8-bit output plane of any stride: black lines on
/// white when `invert`, white lines on black otherwise.
pub fn write_lines(
    edges: &[u8],
    invert: bool,
    dst: &mut [u8],
    dst_stride: usize,
    width: usize,
    height: usize,
) {
    let mask = if invert { 0xff } else { 0x00 };
    for (s, d) in edges
        .chunks(width)
        .zip(dst.chunks_mut(dst_stride))
        .take(height)
    {
        for (o, &e) in d[..width].iter_mut().zip(s) {
            *o = e ^ mask;
        }
    }
}

/// Convenience for tools: black-on-white line art of a packed grey image.
pub fn line_art(
    grey: &[u8],
    width: usize,
    height: usize,
    params: &Params,
) -> Result<Vec<u8>, EdgeError> {
    if grey.len() < width * height {
        return Err(EdgeError(format!(
            "grey buffer of {} bytes is smaller than {width}x{height}",
            grey.len()
        )));
    }
    let mut ex = Extractor::new();
    ex.resize(width, height)?;
    ex.grey_mut().copy_from_slice(&grey[..width * height]);
    let edges = ex.detect(params)?;
    let mut out = vec![0u8; width * height];
    write_lines(edges, true, &mut out, width, width, height);
    Ok(out)
}

/// What a model sees of a packed-RGB frame, made exactly as `tcvclineart` makes it (the
/// trainer's data, `tcvc-eval`'s clips and its `lineart` baseline all go through here): the
/// grey image (scikit-image weights), then, for line-art models, Canny line art black on white
/// with the default [`Params`]. Keeps its buffers from frame to frame.
#[derive(Default)]
pub struct ModelInput {
    extractor: Extractor,
    grey: Vec<u8>,
    lines: Vec<u8>,
}

impl ModelInput {
    /// Empty buffers (sized by the first frame).
    pub fn new() -> Self {
        Self::default()
    }

    /// The input plane (`width × height` bytes) of `rgb`, packed RGB rows: line art when
    /// `line_art`, else the grey image.
    pub fn of_rgb(
        &mut self,
        rgb: &[u8],
        width: usize,
        height: usize,
        line_art: bool,
    ) -> Result<&[u8], EdgeError> {
        let n = width * height;
        if rgb.len() < n * 3 {
            return Err(EdgeError(format!(
                "frame of {} bytes is smaller than {width}x{height} RGB",
                rgb.len()
            )));
        }
        self.grey.resize(n, 0);
        rgb_to_grey(
            rgb,
            width * 3,
            3,
            [0, 1, 2],
            &mut self.grey,
            width,
            width,
            height,
        );
        if !line_art {
            return Ok(&self.grey);
        }
        self.extractor.resize(width, height)?;
        self.extractor.grey_mut().copy_from_slice(&self.grey);
        let edges = self.extractor.detect(&Params::default())?;
        self.lines.resize(n, 0);
        write_lines(edges, true, &mut self.lines, width, width, height);
        Ok(&self.lines)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_size_matches_skimage_truncate_4() {
        assert_eq!(gaussian_kernel_size(1.0), 9);
        assert_eq!(gaussian_kernel_size(2.0), 17);
        assert_eq!(gaussian_kernel_size(0.1), 3);
    }

    #[test]
    fn grey_conversion_rounds_to_nearest() {
        // Pure white, pure black and a mid value by hand: 0.2125*10 + 0.7154*200 + 0.0721*30
        // = 2.125 + 143.08 + 2.163 = 147.368 -> 147.
        let src = [255u8, 255, 255, 0, 0, 0, 10, 200, 30];
        let mut dst = [0u8; 3];
        rgb_to_grey(&src, 9, 3, [0, 1, 2], &mut dst, 3, 3, 1);
        assert_eq!(dst, [255, 0, 147]);
    }

    #[test]
    fn the_multiply_shift_equals_the_integer_division_for_every_input() {
        // Every reachable numerator: all (R, G, B) give v in [5000, 2_555_000].
        for v in 0u32..=2_560_000 {
            assert_eq!(((v as u64 * 109_951_163) >> 40) as u32, v / 10_000, "{v}");
        }
        let mut dst = [0u8; 2];
        rgb_to_grey(
            &[9, 200, 30, 0, 40, 50, 60, 0],
            8,
            4,
            [3, 2, 1],
            &mut dst,
            2,
            2,
            1,
        );
        assert_eq!(dst, [grey_of(0, 30, 200), grey_of(0, 60, 50)]);
    }

    #[test]
    fn a_square_gives_a_closed_black_outline_on_white() {
        let (w, h) = (32, 24);
        let mut grey = vec![0u8; w * h];
        for y in 8..16 {
            for x in 10..22 {
                grey[y * w + x] = 255;
            }
        }
        let art = line_art(&grey, w, h, &Params::default()).unwrap();
        let black = art.iter().filter(|&&v| v == 0).count();
        assert!(art.iter().all(|&v| v == 0 || v == 255));
        // The outline of a 12x8 square is ~40 px long; nothing far from it is black.
        assert!((30..=60).contains(&black), "{black} line pixels");
        assert_eq!(art[0], 255);
        assert_eq!(art[12 * w + 16], 255, "the square's inside is white");
    }

    #[test]
    fn flat_and_tiny_images_have_no_lines() {
        for (w, h) in [(1, 1), (3, 5), (2, 1)] {
            let art = line_art(&vec![77u8; w * h], w, h, &Params::default()).unwrap();
            assert!(art.iter().all(|&v| v == 255), "{w}x{h}");
        }
    }
}
