import Glibc

/// Thin wrappers over the POSIX socket calls the loop needs: non-blocking TCP, `TCP_NODELAY`,
/// and `errno` turned into text in one place.
enum Socket {
    /// `strerror(errno)`.
    static func errnoText(_ code: Int32 = errno) -> String {
        String(cString: strerror(code))
    }

    /// Resolves a host and port (numeric port; the host may be a name) to socket addresses.
    static func resolve(host: String, port: Int, passive: Bool) throws(RPCRuntimeError) -> [(family: Int32, address: [UInt8])] {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0)
        var list: UnsafeMutablePointer<addrinfo>?
        let hostArgument: String? = host.isEmpty ? nil : host
        let result = getaddrinfo(hostArgument, String(port), &hints, &list)
        guard result == 0, let first = list else {
            throw RPCRuntimeError(operation: "resolve \(host):\(port)", reason: String(cString: gai_strerror(result)))
        }
        defer { freeaddrinfo(list) }
        var addresses: [(Int32, [UInt8])] = []
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let info = cursor {
            let bytes = UnsafeRawBufferPointer(start: info.pointee.ai_addr, count: Int(info.pointee.ai_addrlen))
            addresses.append((info.pointee.ai_family, Array(bytes)))
            cursor = info.pointee.ai_next
        }
        return addresses
    }

    /// A listening, non-blocking socket; returns it and the bound port (useful with port 0).
    static func listen(host: String, port: Int, backlog: Int32) throws(RPCRuntimeError) -> (fd: Int32, port: Int) {
        let addresses = try resolve(host: host, port: port, passive: true)
        var lastError = "no address"
        for (family, address) in addresses {
            let fd = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { lastError = errnoText(); continue }
            var one: Int32 = 1
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
            let bound = address.withUnsafeBytes { bytes in
                bind(fd, bytes.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t(bytes.count))
            }
            guard bound == 0, Glibc.listen(fd, backlog) == 0 else {
                lastError = errnoText()
                close(fd)
                continue
            }
            var storage = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            withUnsafeMutablePointer(to: &storage) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { _ = getsockname(fd, $0, &length) }
            }
            return (fd, describe(storage).port)
        }
        throw RPCRuntimeError(operation: "listen on \(host):\(port)", reason: lastError)
    }

    /// Accepts one connection, non-blocking with `TCP_NODELAY`; nil when none is pending.
    static func accept(_ listener: Int32) throws(RPCRuntimeError) -> (fd: Int32, peer: String)? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let fd = withUnsafeMutablePointer(to: &storage) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.accept(listener, $0, &length)
            }
        }
        if fd < 0 {
            switch errno {
            case EAGAIN, EWOULDBLOCK, EINTR, ECONNABORTED: return nil
            default: throw RPCRuntimeError(operation: "accept", reason: errnoText())
            }
        }
        // accept4 is hidden behind _GNU_SOURCE in Swift's Glibc module: set the flags here.
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        setNoDelay(fd)
        let peer = describe(storage)
        return (fd, "\(peer.host):\(peer.port)")
    }

    /// Starts a non-blocking connect to the first address of `host`; the loop learns the
    /// outcome when the socket turns writable.
    static func connect(host: String, port: Int) throws(RPCRuntimeError) -> Int32 {
        let addresses = try resolve(host: host, port: port, passive: false)
        var lastError = "no address"
        for (family, address) in addresses {
            let fd = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { lastError = errnoText(); continue }
            setNoDelay(fd)
            let result = address.withUnsafeBytes { bytes in
                Glibc.connect(fd, bytes.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t(bytes.count))
            }
            if result == 0 || errno == EINPROGRESS { return fd }
            lastError = errnoText()
            close(fd)
        }
        throw RPCRuntimeError(operation: "connect to \(host):\(port)", reason: lastError)
    }

    /// Closes a descriptor.
    static func closeDescriptor(_ fd: Int32) -> Int32 {
        close(fd)
    }

    /// The pending error of a socket (`SO_ERROR`), 0 for none.
    static func pendingError(_ fd: Int32) -> Int32 {
        var value: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &value, &length)
        return value
    }

    static func setNoDelay(_ fd: Int32) {
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    /// Host text and port of an IPv4 or IPv6 address.
    static func describe(_ storage: sockaddr_storage) -> (host: String, port: Int) {
        var storage = storage
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        return withUnsafePointer(to: &storage) { pointer -> (String, Int) in
            switch Int32(pointer.pointee.ss_family) {
            case AF_INET:
                return pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { address in
                    var ip = address.pointee.sin_addr
                    inet_ntop(AF_INET, &ip, &text, socklen_t(text.count))
                    return (text.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }, Int(UInt16(bigEndian: address.pointee.sin_port)))
                }
            case AF_INET6:
                return pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { address in
                    var ip = address.pointee.sin6_addr
                    inet_ntop(AF_INET6, &ip, &text, socklen_t(text.count))
                    return (text.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }, Int(UInt16(bigEndian: address.pointee.sin6_port)))
                }
            default:
                return ("unknown", 0)
            }
        }
    }
}
