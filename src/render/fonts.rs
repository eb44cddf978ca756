//! Fonts embedded in the binary (Inter, SIL Open Font License; see assets/fonts/), so charts
//! and PDFs look the same on every machine and need no system fonts.

pub const FAMILY: &str = "Inter";

pub const REGULAR: &[u8] = include_bytes!("../../assets/fonts/Inter-Regular.otf");
pub const SEMIBOLD: &[u8] = include_bytes!("../../assets/fonts/Inter-SemiBold.otf");
pub const BOLD: &[u8] = include_bytes!("../../assets/fonts/Inter-Bold.otf");

/// Every embedded face.
pub fn all() -> [&'static [u8]; 3] {
    [REGULAR, SEMIBOLD, BOLD]
}
