import CNGHTTP2

/// How a stream's body continues after a read from its data source.
enum HTTP2DataEnd {
    /// More data may come.
    case more
    /// The body is complete; END_STREAM goes on the last DATA frame.
    case endStream
    /// The body is complete; these trailers follow (and carry END_STREAM).
    case trailers([HeaderField])
}

/// The result of asking a stream's data source for body bytes.
enum HTTP2DataRead {
    /// `count` bytes were written into the buffer.
    case bytes(Int, HTTP2DataEnd)
    /// Nothing is queued yet: nghttp2 parks the stream until ``HTTP2Session/resumeData(stream:)``.
    case deferred
}

/// The events one ``HTTP2Session`` reports, on the loop thread. A thrown error tears the
/// connection down (nghttp2 gets `NGHTTP2_ERR_CALLBACK_FAILURE`).
protocol HTTP2SessionDelegate: AnyObject {
    /// A header block begins on a stream (a request on a server, a response or trailers on a client).
    func http2BeginHeaders(stream: Int32) throws
    /// One header field of the block in progress.
    func http2Header(stream: Int32, name: UnsafeBufferPointer<UInt8>, value: UnsafeBufferPointer<UInt8>) throws
    /// The header block is complete; `endStream` if it also ends the peer's side.
    func http2HeadersComplete(stream: Int32, endStream: Bool) throws
    /// A chunk of DATA payload.
    func http2Data(stream: Int32, bytes: UnsafeRawBufferPointer) throws
    /// A DATA frame with END_STREAM arrived (after its payload was reported).
    func http2DataEndStream(stream: Int32) throws
    /// The stream closed; `errorCode` is 0 after a normal close, else the RST_STREAM code.
    func http2StreamClosed(stream: Int32, errorCode: UInt32) throws
    /// The peer sent GOAWAY.
    func http2GoAway(lastStreamID: Int32, errorCode: UInt32)
    /// nghttp2 wants body bytes for a stream.
    func http2ReadData(stream: Int32, into buffer: UnsafeMutableRawBufferPointer) -> HTTP2DataRead
}

/// The one owner of an `nghttp2_session*` (server or client role). It translates nghttp2's C
/// callbacks into ``HTTP2SessionDelegate`` calls and is the single place where nghttp2 error
/// codes become Swift errors. Loop-thread only.
final class HTTP2Session {
    /// Server or client.
    enum Role {
        case server
        case client
    }

    /// Our SETTINGS.
    struct Settings {
        var maxConcurrentStreams: UInt32 = 1024
        /// The receive window of each stream (SETTINGS_INITIAL_WINDOW_SIZE).
        var initialStreamWindow: UInt32 = 1 << 20
        /// The receive window of the whole connection.
        var connectionWindow: Int32 = 16 << 20
        var maxFrameSize: UInt32 = 16_384
        var maxHeaderListSize: UInt32 = 16 << 10
    }

    private var session: OpaquePointer!
    /// Unowned: the connection owns the session.
    unowned let delegate: any HTTP2SessionDelegate
    let role: Role

    init(role: Role, delegate: any HTTP2SessionDelegate, settings: Settings) throws(RPCRuntimeError) {
        self.role = role
        self.delegate = delegate
        var callbacks: OpaquePointer?
        try HTTP2Session.check(nghttp2_session_callbacks_new(&callbacks), "nghttp2_session_callbacks_new")
        defer { nghttp2_session_callbacks_del(callbacks) }
        nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks, onBeginHeaders)
        nghttp2_session_callbacks_set_on_header_callback(callbacks, onHeader)
        nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, onFrameReceived)
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, onDataChunk)
        nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, onStreamClose)

        var option: OpaquePointer?
        try HTTP2Session.check(nghttp2_option_new(&option), "nghttp2_option_new")
        defer { nghttp2_option_del(option) }
        // Windows open only as messages are consumed: that is the receive-side flow control.
        nghttp2_option_set_no_auto_window_update(option, 1)

        let userData = Unmanaged.passUnretained(self).toOpaque()
        switch role {
        case .server: try HTTP2Session.check(nghttp2_session_server_new2(&session, callbacks, userData, option), "nghttp2_session_server_new2")
        case .client: try HTTP2Session.check(nghttp2_session_client_new2(&session, callbacks, userData, option), "nghttp2_session_client_new2")
        }

        var entries = [
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS.rawValue), value: settings.maxConcurrentStreams),
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE.rawValue), value: settings.initialStreamWindow),
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_MAX_FRAME_SIZE.rawValue), value: settings.maxFrameSize),
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE.rawValue), value: settings.maxHeaderListSize),
        ]
        if role == .client {
            // Servers do not push to gRPC clients.
            entries.append(nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_ENABLE_PUSH.rawValue), value: 0))
        }
        try HTTP2Session.check(nghttp2_submit_settings(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), &entries, entries.count), "nghttp2_submit_settings")
        try HTTP2Session.check(nghttp2_session_set_local_window_size(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), 0, settings.connectionWindow),
                               "nghttp2_session_set_local_window_size")
    }

    deinit {
        nghttp2_session_del(session)
    }

    /// The single mapping of nghttp2 return codes to Swift errors.
    static func check(_ code: Int32, _ operation: @autoclosure () -> String) throws(RPCRuntimeError) {
        guard code < 0 else { return }
        throw RPCRuntimeError(operation: operation(), reason: String(cString: nghttp2_strerror(code)))
    }

    // MARK: Input and output

    /// Feeds received bytes; callbacks run during the call.
    func receive(_ bytes: UnsafeRawBufferPointer) throws(RPCRuntimeError) {
        let result = nghttp2_session_mem_recv(session, bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count)
        if result < 0 { try HTTP2Session.check(Int32(result), "nghttp2_session_mem_recv") }
    }

    /// The next serialized chunk to send (valid until the next call), or an empty buffer.
    func nextOutput() throws(RPCRuntimeError) -> UnsafeRawBufferPointer {
        var pointer: UnsafePointer<UInt8>?
        let count = nghttp2_session_mem_send(session, &pointer)
        if count < 0 { try HTTP2Session.check(Int32(count), "nghttp2_session_mem_send") }
        guard count > 0, let pointer else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        return UnsafeRawBufferPointer(start: pointer, count: count)
    }

    /// Whether nghttp2 still expects input.
    var wantsRead: Bool { nghttp2_session_want_read(session) != 0 }
    /// Whether nghttp2 has frames to send.
    var wantsWrite: Bool { nghttp2_session_want_write(session) != 0 }

    // MARK: Submitting frames

    /// Submits a response: headers, then a body from the delegate's data source if `hasBody`,
    /// else the headers end the stream.
    func submitResponse(stream: Int32, headers: [HeaderField], hasBody: Bool) throws(RPCRuntimeError) {
        var provider = HTTP2Session.dataProvider()
        let result = HTTP2Session.withNameValues(headers) { nva, count in
            hasBody ? nghttp2_submit_response(session, stream, nva, count, &provider)
                    : nghttp2_submit_response(session, stream, nva, count, nil)
        }
        try HTTP2Session.check(result, "nghttp2_submit_response(stream \(stream))")
    }

    /// Submits a request whose body comes from the delegate's data source; returns its stream id.
    func submitRequest(headers: [HeaderField]) throws(RPCRuntimeError) -> Int32 {
        var provider = HTTP2Session.dataProvider()
        let result = HTTP2Session.withNameValues(headers) { nva, count in
            nghttp2_submit_request(session, nil, nva, count, &provider, nil)
        }
        try HTTP2Session.check(result, "nghttp2_submit_request")
        return result
    }

    /// Submits trailers (a HEADERS frame with END_STREAM) after a body that did not end the stream.
    func submitTrailers(stream: Int32, headers: [HeaderField]) throws(RPCRuntimeError) {
        let result = HTTP2Session.withNameValues(headers) { nva, count in
            nghttp2_submit_trailer(session, stream, nva, count)
        }
        try HTTP2Session.check(result, "nghttp2_submit_trailer(stream \(stream))")
    }

    /// Wakes a stream whose data source returned ``HTTP2DataRead/deferred``; harmless otherwise.
    func resumeData(stream: Int32) {
        _ = nghttp2_session_resume_data(session, stream)
    }

    /// Resets a stream with an HTTP/2 error code (e.g. `NGHTTP2_CANCEL`).
    func resetStream(_ stream: Int32, errorCode: UInt32) {
        _ = nghttp2_submit_rst_stream(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), stream, errorCode)
    }

    /// Returns flow-control credit for bytes the application has taken from a stream.
    func consume(stream: Int32, bytes: Int) {
        guard bytes > 0 else { return }
        _ = nghttp2_session_consume_stream(session, stream, bytes)
    }

    /// Returns flow-control credit to the connection window.
    func consumeConnection(bytes: Int) {
        guard bytes > 0 else { return }
        _ = nghttp2_session_consume_connection(session, bytes)
    }

    /// Sends GOAWAY naming the last stream this side processed: later streams are refused,
    /// earlier ones finish.
    func submitGoAway(errorCode: UInt32 = 0) {
        let last = nghttp2_session_get_last_proc_stream_id(session)
        _ = nghttp2_submit_goaway(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), last, errorCode, nil, 0)
    }

    // MARK: Helpers

    private static func dataProvider() -> nghttp2_data_provider {
        var provider = nghttp2_data_provider()
        provider.source.ptr = nil
        provider.read_callback = onReadData
        return provider
    }

    /// Lays the fields out in one buffer and passes `nghttp2_nv`s pointing into it (nghttp2
    /// copies them during the submit call).
    private static func withNameValues(_ headers: [HeaderField], _ body: (UnsafePointer<nghttp2_nv>, Int) -> Int32) -> Int32 {
        var storage = [UInt8]()
        var total = 0
        for field in headers { total += field.name.utf8.count + field.value.utf8.count }
        storage.reserveCapacity(total)
        var lengths: [(Int, Int)] = []
        lengths.reserveCapacity(headers.count)
        for field in headers {
            storage.append(contentsOf: field.name.utf8)
            storage.append(contentsOf: field.value.utf8)
            lengths.append((field.name.utf8.count, field.value.utf8.count))
        }
        return storage.withUnsafeMutableBufferPointer { bytes in
            var nva = [nghttp2_nv]()
            nva.reserveCapacity(headers.count)
            var offset = 0
            for (nameLength, valueLength) in lengths {
                let base = bytes.baseAddress!
                nva.append(nghttp2_nv(name: base + offset, value: base + offset + nameLength,
                                      namelen: nameLength, valuelen: valueLength, flags: UInt8(NGHTTP2_NV_FLAG_NONE.rawValue)))
                offset += nameLength + valueLength
            }
            return nva.withUnsafeBufferPointer { body($0.baseAddress!, $0.count) }
        }
    }

    fileprivate static func from(_ userData: UnsafeMutableRawPointer?) -> HTTP2Session {
        Unmanaged<HTTP2Session>.fromOpaque(userData!).takeUnretainedValue()
    }
}

// MARK: C callbacks: recover the session from user_data, call the delegate, map errors.

private let callbackFailure = Int32(NGHTTP2_ERR_CALLBACK_FAILURE.rawValue)

private func onBeginHeaders(_: OpaquePointer?, _ frame: UnsafePointer<nghttp2_frame>?, _ userData: UnsafeMutableRawPointer?) -> Int32 {
    let session = HTTP2Session.from(userData)
    guard let frame, frame.pointee.hd.type == UInt8(NGHTTP2_HEADERS.rawValue) else { return 0 }
    do {
        try session.delegate.http2BeginHeaders(stream: frame.pointee.hd.stream_id)
        return 0
    } catch {
        return callbackFailure
    }
}

private func onHeader(_: OpaquePointer?, _ frame: UnsafePointer<nghttp2_frame>?,
                      _ name: UnsafePointer<UInt8>?, _ nameLength: Int,
                      _ value: UnsafePointer<UInt8>?, _ valueLength: Int,
                      _ flags: UInt8, _ userData: UnsafeMutableRawPointer?) -> Int32 {
    let session = HTTP2Session.from(userData)
    guard let frame, frame.pointee.hd.type == UInt8(NGHTTP2_HEADERS.rawValue) else { return 0 }
    do {
        try session.delegate.http2Header(stream: frame.pointee.hd.stream_id,
                                         name: UnsafeBufferPointer(start: name, count: nameLength),
                                         value: UnsafeBufferPointer(start: value, count: valueLength))
        return 0
    } catch {
        return callbackFailure
    }
}

private func onFrameReceived(_: OpaquePointer?, _ frame: UnsafePointer<nghttp2_frame>?, _ userData: UnsafeMutableRawPointer?) -> Int32 {
    let session = HTTP2Session.from(userData)
    guard let frame else { return 0 }
    let header = frame.pointee.hd
    let endStream = header.flags & UInt8(NGHTTP2_FLAG_END_STREAM.rawValue) != 0
    do {
        switch UInt32(header.type) {
        case NGHTTP2_HEADERS.rawValue:
            try session.delegate.http2HeadersComplete(stream: header.stream_id, endStream: endStream)
        case NGHTTP2_DATA.rawValue:
            if endStream { try session.delegate.http2DataEndStream(stream: header.stream_id) }
        case NGHTTP2_GOAWAY.rawValue:
            session.delegate.http2GoAway(lastStreamID: frame.pointee.goaway.last_stream_id,
                                         errorCode: frame.pointee.goaway.error_code)
        default:
            break
        }
        return 0
    } catch {
        return callbackFailure
    }
}

private func onDataChunk(_: OpaquePointer?, _ flags: UInt8, _ stream: Int32,
                         _ data: UnsafePointer<UInt8>?, _ length: Int, _ userData: UnsafeMutableRawPointer?) -> Int32 {
    let session = HTTP2Session.from(userData)
    do {
        try session.delegate.http2Data(stream: stream, bytes: UnsafeRawBufferPointer(start: data, count: length))
        return 0
    } catch {
        return callbackFailure
    }
}

private func onStreamClose(_: OpaquePointer?, _ stream: Int32, _ errorCode: UInt32, _ userData: UnsafeMutableRawPointer?) -> Int32 {
    let session = HTTP2Session.from(userData)
    do {
        try session.delegate.http2StreamClosed(stream: stream, errorCode: errorCode)
        return 0
    } catch {
        return callbackFailure
    }
}

private func onReadData(_ rawSession: OpaquePointer?, _ stream: Int32, _ buffer: UnsafeMutablePointer<UInt8>?, _ length: Int,
                        _ flags: UnsafeMutablePointer<UInt32>?, _: UnsafeMutablePointer<nghttp2_data_source>?,
                        _ userData: UnsafeMutableRawPointer?) -> Int {
    let session = HTTP2Session.from(userData)
    switch session.delegate.http2ReadData(stream: stream, into: UnsafeMutableRawBufferPointer(start: buffer, count: length)) {
    case .deferred:
        return Int(NGHTTP2_ERR_DEFERRED.rawValue)
    case .bytes(let count, .more):
        return count
    case .bytes(let count, .endStream):
        flags?.pointee |= NGHTTP2_DATA_FLAG_EOF.rawValue
        return count
    case .bytes(let count, .trailers(let trailers)):
        flags?.pointee |= NGHTTP2_DATA_FLAG_EOF.rawValue | NGHTTP2_DATA_FLAG_NO_END_STREAM.rawValue
        do {
            try session.submitTrailers(stream: stream, headers: trailers)
        } catch {
            return Int(NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE.rawValue)
        }
        return count
    }
}
