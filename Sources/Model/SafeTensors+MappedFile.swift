#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A whole file mapped read-only into memory; the one owner of the mapping, unmapped in `deinit`.
///
/// Mapping instead of reading lets a multi-gigabyte checkpoint be opened by touching only the
/// pages that are used: the header at open time, a tensor's bytes when it is converted.
///
/// The mapping is private and read-only and never changes after `init`, so sharing it between
/// threads is safe; hence `@unchecked Sendable`. If another process truncates the file while it
/// is mapped, touching the vanished pages raises SIGBUS: the OS gives no way to turn that into
/// an error, so weights must not be rewritten in place while a process reads them.
final class MappedFile: @unchecked Sendable {
    /// The file's bytes (empty for an empty file).
    let bytes: UnsafeRawBufferPointer

    /// Maps the regular file at `path`. Throws a ``ModelError`` naming the path and the OS error.
    init(path: String) throws(ModelError) {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw Self.error("cannot open", path) }
        // The mapping keeps its own reference to the file; the descriptor is not needed after.
        defer { close(descriptor) }

        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw Self.error("cannot stat", path) }
        guard (status.st_mode & S_IFMT) == S_IFREG else {
            throw ModelError("'\(path)' is not a regular file")
        }
        let size = Int(status.st_size)
        // mmap rejects a zero length; an empty file is still a valid (if useless) input.
        guard size > 0 else {
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        let address = mmap(nil, size, PROT_READ, MAP_PRIVATE, descriptor, 0)
        guard let address, address != MAP_FAILED else { throw Self.error("cannot memory-map", path) }
        bytes = UnsafeRawBufferPointer(start: address, count: size)
    }

    deinit {
        if let base = bytes.baseAddress {
            munmap(UnsafeMutableRawPointer(mutating: base), bytes.count)
        }
    }

    /// The error for a failed system call, with `errno`'s text.
    private static func error(_ action: String, _ path: String) -> ModelError {
        ModelError("\(action) '\(path)': \(String(cString: strerror(errno)))")
    }
}
