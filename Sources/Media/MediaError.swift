/// A failure while turning latents into a video or writing it: the message names the file,
/// the field or the value at fault.
public struct MediaError: Error, CustomStringConvertible, Equatable, Sendable {
    /// What went wrong, for a person.
    public let message: String

    /// An error with `message`.
    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}
