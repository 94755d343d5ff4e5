// The health messages' only contact with the protobuf-c structs of the Wire module.
import Wire

extension HealthCheckRequest: RPCMessage {
    /// Decodes `grpc.health.v1.HealthCheckRequest`.
    public init(serializedBytes bytes: [UInt8]) throws(RPCError) {
        let decoded = bytes.withUnsafeBufferPointer {
            grpc__health__v1__health_check_request__unpack(nil, $0.count, $0.baseAddress)
        }
        guard let decoded else {
            throw RPCError(code: .internalError, message: "invalid grpc.health.v1.HealthCheckRequest (\(bytes.count) bytes)")
        }
        defer { grpc__health__v1__health_check_request__free_unpacked(decoded, nil) }
        service = decoded.pointee.service.map { String(cString: $0) } ?? ""
    }

    /// Encodes `grpc.health.v1.HealthCheckRequest`.
    public func serializedBytes() -> [UInt8] {
        // protobuf-c reads the string through its pointer while it packs: keep it pinned.
        service.withCString { service in
            var message = Grpc__Health__V1__HealthCheckRequest()
            grpc__health__v1__health_check_request__init(&message)
            message.service = UnsafeMutablePointer(mutating: service)
            let size = grpc__health__v1__health_check_request__get_packed_size(&message)
            return [UInt8](unsafeUninitializedCapacity: size) { buffer, count in
                count = grpc__health__v1__health_check_request__pack(&message, buffer.baseAddress)
            }
        }
    }
}

extension HealthCheckResponse: RPCMessage {
    /// Decodes `grpc.health.v1.HealthCheckResponse`; an unknown status number reads as `unknown`.
    public init(serializedBytes bytes: [UInt8]) throws(RPCError) {
        let decoded = bytes.withUnsafeBufferPointer {
            grpc__health__v1__health_check_response__unpack(nil, $0.count, $0.baseAddress)
        }
        guard let decoded else {
            throw RPCError(code: .internalError, message: "invalid grpc.health.v1.HealthCheckResponse (\(bytes.count) bytes)")
        }
        defer { grpc__health__v1__health_check_response__free_unpacked(decoded, nil) }
        status = HealthService.ServingStatus(rawValue: Int(decoded.pointee.status.rawValue)) ?? .unknown
    }

    /// Encodes `grpc.health.v1.HealthCheckResponse`.
    public func serializedBytes() -> [UInt8] {
        var message = Grpc__Health__V1__HealthCheckResponse()
        grpc__health__v1__health_check_response__init(&message)
        message.status = Grpc__Health__V1__HealthCheckResponse__ServingStatus(rawValue: UInt32(status.rawValue))
        let size = grpc__health__v1__health_check_response__get_packed_size(&message)
        return [UInt8](unsafeUninitializedCapacity: size) { buffer, count in
            count = grpc__health__v1__health_check_response__pack(&message, buffer.baseAddress)
        }
    }
}
