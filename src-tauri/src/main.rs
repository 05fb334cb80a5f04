fn main() { hearth_desktop::run() }
