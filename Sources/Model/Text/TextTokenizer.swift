import Foundation

/// The word-level tokenizer of the bundled tiny text encoder, read from `tokenizer/vocab.json`:
/// `{"tokens": [...], "max_length": 8, "bos": "<bos>", "eos": "<eos>", "pad": "<pad>"}`.
///
/// A prompt is lowercased, split on whitespace, and each word is stripped of the punctuation
/// characters `,` `.` `;` at both ends (a word that is only punctuation disappears). Every word
/// must be one of the vocabulary's ``words``; the ids are `[bos] + words + [eos]`, padded with
/// `pad` to ``maxLength``. The empty prompt gives `[bos, eos, pad, ...]`: the unconditional
/// (negative) prompt of classifier-free guidance.
///
/// ```swift
/// let tokenizer = try TextTokenizer.load(path: "models/tiny-shapes/tokenizer/vocab.json")
/// let ids = try tokenizer.tokenize("a red circle moving right")  // 8 ids
/// ```
public struct TextTokenizer: Sendable, Equatable {
    /// The characters stripped from both ends of each word.
    public static let strippedPunctuation: Set<Character> = [",", ".", ";"]

    /// Every token, in id order (token `i` has id `i`), special tokens included.
    public let tokens: [String]
    /// The length of every token sequence, `bos` and `eos` included.
    public let maxLength: Int
    /// The id of the token that starts every sequence.
    public let bosID: Int
    /// The id of the token that ends the prompt's words.
    public let eosID: Int
    /// The id of the token that pads a sequence to ``maxLength``.
    public let padID: Int
    private let ids: [String: Int]

    /// A tokenizer over `tokens` (id `i` is `tokens[i]`) whose special tokens are named by
    /// `bos`, `eos` and `pad`; `source` names the vocabulary in errors.
    public init(tokens: [String], maxLength: Int, bos: String, eos: String, pad: String,
                source: String = "vocabulary") throws {
        guard !tokens.isEmpty else { throw ModelError("\(source): field 'tokens' is empty") }
        var ids: [String: Int] = [:]
        for (id, token) in tokens.enumerated() {
            if let first = ids[token] {
                throw ModelError("\(source): field 'tokens' lists \"\(token)\" twice (ids \(first) and \(id))")
            }
            ids[token] = id
        }
        func special(_ key: String, _ token: String) throws -> Int {
            guard let id = ids[token] else {
                throw ModelError("\(source): field '\(key)' = \"\(token)\" is not one of the tokens")
            }
            return id
        }
        bosID = try special("bos", bos)
        eosID = try special("eos", eos)
        padID = try special("pad", pad)
        guard Set([bosID, eosID, padID]).count == 3 else {
            throw ModelError("\(source): fields 'bos', 'eos' and 'pad' must name three different tokens, got \"\(bos)\", \"\(eos)\", \"\(pad)\"")
        }
        guard maxLength >= 2 else {
            throw ModelError("\(source): field 'max_length' must be at least 2 (room for bos and eos), got \(maxLength)")
        }
        self.tokens = tokens
        self.maxLength = maxLength
        self.ids = ids
    }

    /// Reads and validates the `vocab.json` at `path`.
    public static func load(path: String) throws -> TextTokenizer {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw ModelError("cannot read tokenizer vocabulary '\(path)': \(error.localizedDescription)")
        }
        return try parse(data, source: path)
    }

    /// Parses and validates a `vocab.json` document; `source` names it in errors.
    public static func parse(_ data: Data, source: String) throws -> TextTokenizer {
        let reader = try ConfigReader(ConfigValue.parseObject(data, source: source), source: source)
        guard !reader.isAbsent("tokens") else { throw reader.fail("tokens", "is missing") }
        return try TextTokenizer(tokens: reader.strings("tokens", default: []),
                                 maxLength: reader.requiredInt("max_length", range: 2 ... 1 << 16),
                                 bos: reader.requiredString("bos"), eos: reader.requiredString("eos"),
                                 pad: reader.requiredString("pad"), source: source)
    }

    /// The tokens a prompt may use: every token except `bos`, `eos` and `pad`, in id order.
    public var words: [String] {
        tokens.enumerated().filter { ![bosID, eosID, padID].contains($0.offset) }.map(\.element)
    }

    /// The words of `prompt` as the tokenizer sees them: lowercased, split on whitespace,
    /// punctuation stripped from both ends, empty words dropped.
    public static func words(of prompt: String) -> [String] {
        prompt.lowercased().split(whereSeparator: \.isWhitespace).compactMap { word -> String? in
            var word = word[...]
            while let first = word.first, strippedPunctuation.contains(first) { word = word.dropFirst() }
            while let last = word.last, strippedPunctuation.contains(last) { word = word.dropLast() }
            return word.isEmpty ? nil : String(word)
        }
    }

    /// The ``maxLength`` token ids of `prompt`. Throws a ``ModelError`` naming the word when a
    /// word is not in the vocabulary (and listing the vocabulary's words), or naming the limit
    /// when the prompt has more than `maxLength - 2` words.
    public func tokenize(_ prompt: String) throws -> [Int] {
        let words = Self.words(of: prompt)
        var sequence = [bosID]
        for word in words {
            guard let id = ids[word], ![bosID, eosID, padID].contains(id) else {
                throw ModelError("unknown word \"\(word)\" in prompt \"\(prompt)\": the text encoder knows only these words: \(self.words.joined(separator: ", "))")
            }
            sequence.append(id)
        }
        sequence.append(eosID)
        guard sequence.count <= maxLength else {
            throw ModelError("prompt \"\(prompt)\" has \(words.count) words; the text encoder's max_length of \(maxLength) tokens (with bos and eos) allows at most \(maxLength - 2)")
        }
        return sequence + Array(repeating: padID, count: maxLength - sequence.count)
    }
}

extension ConfigReader {
    /// A field that must be present and an integer in `range`.
    func requiredInt(_ key: String, range: ClosedRange<Int>) throws -> Int {
        guard !isAbsent(key) else { throw fail(key, "is missing") }
        return try int(key, default: 0, range: range)
    }

    /// A field that must be present and a string.
    func requiredString(_ key: String) throws -> String {
        guard case .string(let value) = json[key] else {
            throw fail(key, isAbsent(key) ? "is missing" : "must be a string, got \(describe(key))")
        }
        return value
    }
}
