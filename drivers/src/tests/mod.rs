//! The drivers' own tests: independent byte fixtures, the USB fake, and
//! property tests of the reply parser and the print sequence.

mod fixtures;
mod properties;
mod usb_fake;
