/// One HTTP/2 header field as text; pseudo-headers keep their leading colon.
struct HeaderField: Sendable, Hashable {
    var name: String
    var value: String

    init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

extension [HeaderField] {
    /// The first value of a name.
    func first(_ name: String) -> String? {
        for field in self where field.name == name { return field.value }
        return nil
    }
}
