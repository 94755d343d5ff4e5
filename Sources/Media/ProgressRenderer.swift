#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where a generation stands, as the progress line shows it.
public struct ProgressSnapshot: Sendable, Equatable {
    /// Denoising steps finished.
    public var step: Int
    /// Denoising steps in all.
    public var steps: Int
    /// Clips denoised in lock-step.
    public var clips: Int
    /// Seconds since denoising began.
    public var elapsed: Double
    /// The share of time spent exchanging context between clips (0...1), when known.
    public var exchangeFraction: Double?

    /// A snapshot after `step` of `steps` steps for `clips` clips, `elapsed` seconds in.
    public init(step: Int, steps: Int, clips: Int, elapsed: Double, exchangeFraction: Double? = nil) {
        self.step = step
        self.steps = steps
        self.clips = clips
        self.elapsed = elapsed
        self.exchangeFraction = exchangeFraction
    }

    /// Seconds still to go, extrapolated from the time per step so far; nil before the first
    /// step.
    public var remaining: Double? {
        guard step > 0, steps >= step else { return nil }
        return elapsed / Double(step) * Double(steps - step)
    }
}

/// Formats progress lines; pure, so the exact text is testable. On a terminal a bar redrawn in
/// place:
///
///     \r[######..............] step 3/10 x 4 clips  12.3 s elapsed  ETA 28.7 s\e[K
///
/// (the last step ends the line with `\n`); elsewhere (pipes, logs) one plain line per step:
///
///     step 3/10 x 4 clips  elapsed 12.3 s  eta 28.7 s
///
/// With an exchange fraction both add `  exchange 25%`.
public struct ProgressRenderer: Sendable, Equatable {
    /// How lines look.
    public enum Style: Sendable, Equatable {
        /// A bar of `width` cells, redrawn in place with a carriage return.
        case bar(width: Int)
        /// Plain lines without control characters.
        case plain
    }

    /// The style of the lines.
    public let style: Style

    /// A renderer with `style`.
    public init(style: Style) {
        self.style = style
    }

    /// A bar (20 cells) when `fileDescriptor` is a terminal, plain lines otherwise.
    public static func forOutput(fileDescriptor: Int32) -> ProgressRenderer {
        ProgressRenderer(style: isTerminal(fileDescriptor: fileDescriptor) ? .bar(width: 20) : .plain)
    }

    /// Whether `fileDescriptor` is a terminal (`isatty`).
    public static func isTerminal(fileDescriptor: Int32) -> Bool {
        isatty(fileDescriptor) == 1
    }

    /// The text to write for `progress`: for `.plain` a line without its newline; for `.bar`
    /// the redraw sequence, ending in a newline only after the last step.
    public func render(_ progress: ProgressSnapshot) -> String {
        let clips = "\(progress.clips) clip\(progress.clips == 1 ? "" : "s")"
        let exchange = progress.exchangeFraction.map { "  exchange \(fixed(min(max($0, 0), 1) * 100, 0))%" } ?? ""
        switch style {
        case .plain:
            let eta = progress.remaining.map { "\(fixed($0, 1)) s" } ?? "unknown"
            return "step \(progress.step)/\(progress.steps) x \(clips)  elapsed \(fixed(progress.elapsed, 1)) s  eta \(eta)\(exchange)"
        case .bar(let width):
            let filled = progress.steps > 0 ? min(width, max(0, progress.step * width / progress.steps)) : 0
            let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
            let eta = progress.remaining.map { "\(fixed($0, 1)) s" } ?? "--"
            let end = progress.step >= progress.steps ? "\n" : ""
            // ESC [ K clears what a longer previous line left to the right.
            return "\r[\(bar)] step \(progress.step)/\(progress.steps) x \(clips)  \(fixed(progress.elapsed, 1)) s elapsed  ETA \(eta)\(exchange)\u{1B}[K\(end)"
        }
    }
}

/// `value` with `digits` decimals, rounded half away from zero (no ICU-backed formatting).
public func fixed(_ value: Double, _ digits: Int) -> String {
    guard value.isFinite else { return "\(value)" }
    var scale = 1.0
    for _ in 0 ..< digits { scale *= 10 }
    let scaled = (abs(value) * scale).rounded()
    let whole = Int(scaled / scale)
    let fraction = Int(scaled - Double(whole) * scale)
    let sign = value < 0 && scaled != 0 ? "-" : ""
    guard digits > 0 else { return "\(sign)\(whole)" }
    let fractionText = String(fraction)
    return "\(sign)\(whole).\(String(repeating: "0", count: digits - fractionText.count))\(fractionText)"
}
