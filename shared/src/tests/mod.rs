//! Test suites that cross modules: hostile input against every renderer and parser.

mod hostile;
