import Glibc

extension String {
    /// The string padded with spaces on the right to at least `width` characters.
    func padding(to width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}

/// Prints a line and flushes it at once, so progress and "listening on" lines reach pipes
/// (launchers, tests, log collectors) as they happen rather than when a buffer fills.
func say(_ line: String) {
    print(line)
    fflush(nil)
}
