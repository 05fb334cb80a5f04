//! The signed course-package manifest.
