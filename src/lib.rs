pub mod guest;

pub fn hello() {}
