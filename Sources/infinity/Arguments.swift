import Foundation

/// A command line's `--flag value` and `--switch` options, read against a command's known set,
/// with errors that name the flag and what it accepts.
struct Arguments {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    private var values: [String: String] = [:]
    private var lists: [String: [String]] = [:]
    private var switches: Set<String> = []

    /// Parses `arguments`; `options` take a value, `flags` take none, `repeatable` options take
    /// a value each time they are given.
    init(_ arguments: ArraySlice<String>, flags: Set<String> = [], options: Set<String>, repeatable: Set<String> = []) throws {
        var remaining = arguments[...]
        while let argument = remaining.popFirst() {
            guard argument.hasPrefix("--") else {
                throw Failure(description: "unexpected argument '\(argument)'")
            }
            var name = String(argument.dropFirst(2))
            var inline: String?
            if let equals = name.firstIndex(of: "=") {
                inline = String(name[name.index(after: equals)...])
                name = String(name[..<equals])
            }
            if flags.contains(name) {
                guard inline == nil else { throw Failure(description: "--\(name) takes no value") }
                switches.insert(name)
            } else if repeatable.contains(name) {
                guard let value = inline ?? remaining.popFirst() else {
                    throw Failure(description: "--\(name) needs a value")
                }
                lists[name, default: []].append(value)
            } else if options.contains(name) {
                guard let value = inline ?? remaining.popFirst() else {
                    throw Failure(description: "--\(name) needs a value")
                }
                guard values[name] == nil else { throw Failure(description: "--\(name) given twice") }
                values[name] = value
            } else {
                let known = options.union(flags).union(repeatable).sorted().map { "--\($0)" }.joined(separator: ", ")
                throw Failure(description: "unknown option '--\(name)' (known: \(known))")
            }
        }
    }

    /// Whether switch `name` was given.
    func flag(_ name: String) -> Bool { switches.contains(name) }

    /// Every value of repeatable option `--name`, in order.
    func strings(_ name: String) -> [String] { lists[name] ?? [] }

    /// The value of `--name`, or nil when absent.
    func string(_ name: String) -> String? { values[name] }

    /// The value of `--name`, which must be given.
    func required(_ name: String) throws -> String {
        guard let value = values[name] else { throw Failure(description: "missing required option --\(name)") }
        return value
    }

    /// An integer option within `range`.
    func int(_ name: String, default value: Int? = nil, range: ClosedRange<Int>) throws -> Int {
        guard let text = values[name] else {
            guard let value else { throw Failure(description: "missing required option --\(name)") }
            return value
        }
        guard let number = Int(text), range.contains(number) else {
            throw Failure(description: "--\(name) must be an integer in \(range.lowerBound)...\(range.upperBound), got '\(text)'")
        }
        return number
    }

    /// A list of integers separated by commas, each within `range`.
    func ints(_ name: String, default value: [Int], range: ClosedRange<Int>) throws -> [Int] {
        guard let text = values[name] else { return value }
        let parts = text.split(separator: ",", omittingEmptySubsequences: false)
        return try parts.map { part in
            guard let number = Int(part.trimmingCharacters(in: .whitespaces)), range.contains(number) else {
                throw Failure(description: "--\(name) must be a comma-separated list of integers in \(range.lowerBound)...\(range.upperBound), got '\(text)'")
            }
            return number
        }
    }

    /// A finite floating-point option within `range`.
    func float(_ name: String, default value: Float? = nil, range: ClosedRange<Float>) throws -> Float {
        guard let text = values[name] else {
            guard let value else { throw Failure(description: "missing required option --\(name)") }
            return value
        }
        guard let number = Float(text), number.isFinite, range.contains(number) else {
            throw Failure(description: "--\(name) must be a number in \(range.lowerBound)...\(range.upperBound), got '\(text)'")
        }
        return number
    }

    /// One of `choices`.
    func choice(_ name: String, default value: String, from choices: [String]) throws -> String {
        guard let text = values[name] else { return value }
        guard choices.contains(text) else {
            throw Failure(description: "--\(name) must be one of \(choices.joined(separator: ", ")), got '\(text)'")
        }
        return text
    }
}
