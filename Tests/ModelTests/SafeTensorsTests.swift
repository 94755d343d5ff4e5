import Foundation
import Testing
import Tensor
@testable import Model

// Files written by the Python safetensors library (0.8.0, torch 2.13), made by
//     .venv-ref/bin/python scripts/fixtures/make_safetensors_fixture.py
// which prints each file as base64; see the script for the tensors' values.
private enum ReferenceFiles {
    /// One tensor per convertible dtype (edge values), an empty and a scalar tensor, metadata
    /// {"format": "pt", "note": "infinity fixture"}.
    static let dtypes = decode(
        "gAMAAAAAAAB7Il9fbWV0YWRhdGFfXyI6eyJmb3JtYXQiOiJwdCIsIm5vdGUiOiJpbmZpbml0eSBmaXh0dXJlIn0sImk2NCI6" +
        "eyJkdHlwZSI6Ikk2NCIsInNoYXBlIjpbMiwyXSwiZGF0YV9vZmZzZXRzIjpbMCwzMl19LCJmNjQiOnsiZHR5cGUiOiJGNjQi" +
        "LCJzaGFwZSI6WzJdLCJkYXRhX29mZnNldHMiOlszMiw0OF19LCJlbXB0eSI6eyJkdHlwZSI6IkYzMiIsInNoYXBlIjpbMCw0" +
        "XSwiZGF0YV9vZmZzZXRzIjpbNDgsNDhdfSwiZjMyIjp7ImR0eXBlIjoiRjMyIiwic2hhcGUiOlsyLDNdLCJkYXRhX29mZnNl" +
        "dHMiOls0OCw3Ml19LCJzY2FsYXIiOnsiZHR5cGUiOiJGMzIiLCJzaGFwZSI6W10sImRhdGFfb2Zmc2V0cyI6WzcyLDc2XX0s" +
        "ImkzMiI6eyJkdHlwZSI6IkkzMiIsInNoYXBlIjpbMl0sImRhdGFfb2Zmc2V0cyI6Wzc2LDg0XX0sImJmMTYiOnsiZHR5cGUi" +
        "OiJCRjE2Iiwic2hhcGUiOls0XSwiZGF0YV9vZmZzZXRzIjpbODQsOTJdfSwiZjE2Ijp7ImR0eXBlIjoiRjE2Iiwic2hhcGUi" +
        "Ols4XSwiZGF0YV9vZmZzZXRzIjpbOTIsMTA4XX0sImkxNiI6eyJkdHlwZSI6IkkxNiIsInNoYXBlIjpbMl0sImRhdGFfb2Zm" +
        "c2V0cyI6WzEwOCwxMTJdfSwiZjhfZTRtMyI6eyJkdHlwZSI6IkY4X0U0TTMiLCJzaGFwZSI6WzRdLCJkYXRhX29mZnNldHMi" +
        "OlsxMTIsMTE2XX0sImY4X2U1bTIiOnsiZHR5cGUiOiJGOF9FNU0yIiwic2hhcGUiOls0XSwiZGF0YV9vZmZzZXRzIjpbMTE2" +
        "LDEyMF19LCJpOCI6eyJkdHlwZSI6Ikk4Iiwic2hhcGUiOlsyXSwiZGF0YV9vZmZzZXRzIjpbMTIwLDEyMl19LCJ1OCI6eyJk" +
        "dHlwZSI6IlU4Iiwic2hhcGUiOlsyXSwiZGF0YV9vZmZzZXRzIjpbMTIyLDEyNF19LCJib29sIjp7ImR0eXBlIjoiQk9PTCIs" +
        "InNoYXBlIjpbM10sImRhdGFfb2Zmc2V0cyI6WzEyNCwxMjddfX0gIP3/////////AAAAAAAAAAAAAAAAAAEAAAcAAAAAAAAA" +
        "AAAAAAAA4D+cdQCIPOQ3/gAAAAAAAACAAQAAAP//f38AAMC/zczMPQAAKEIAAACAAQAAAYA/ScCA/wEAAAAAgP97AQAAfADB" +
        "AH4ABACA/39+gSx/e4F8PoB/AP8BAAE=")

    /// `a.bias` F32 [2, 2] = [0.25, 3, -0, 1e-40 (bit pattern 71362)], `b.weight` F32 [2] = [1, -2], {"format": "pt"}.
    static let writerF32 = decode(
        "oAAAAAAAAAB7Il9fbWV0YWRhdGFfXyI6eyJmb3JtYXQiOiJwdCJ9LCJhLmJpYXMiOnsiZHR5cGUiOiJGMzIiLCJzaGFwZSI6" +
        "WzIsMl0sImRhdGFfb2Zmc2V0cyI6WzAsMTZdfSwiYi53ZWlnaHQiOnsiZHR5cGUiOiJGMzIiLCJzaGFwZSI6WzJdLCJkYXRh" +
        "X29mZnNldHMiOlsxNiwyNF19fSAgICAgAACAPgAAQEAAAACAwhYBAAAAgD8AAADA")

    /// `w` F16 [1, 1] = [2^-24], `x` F16 [3] = [1, 0.1, -65504], {"format": "pt"}.
    static let writerF16 = decode(
        "kAAAAAAAAAB7Il9fbWV0YWRhdGFfXyI6eyJmb3JtYXQiOiJwdCJ9LCJ3Ijp7ImR0eXBlIjoiRjE2Iiwic2hhcGUiOlsxLDFd" +
        "LCJkYXRhX29mZnNldHMiOlswLDJdfSwieCI6eyJkdHlwZSI6IkYxNiIsInNoYXBlIjpbM10sImRhdGFfb2Zmc2V0cyI6WzIs" +
        "OF19fSAgICABAAA8Zi7/+w==")

    private static func decode(_ base64: String) -> [UInt8] {
        [UInt8](Data(base64Encoded: base64)!)
    }
}

// MARK: - Helpers

/// Runs `body` with a fresh temporary directory, removed afterwards.
private func withTemporaryDirectory<Result>(_ body: (String) throws -> Result) throws -> Result {
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("safetensors-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: url) }
    return try body(url.path)
}

/// Writes `bytes` to `name` in `directory` and returns the file's path.
private func writeFile(_ bytes: [UInt8], named name: String = "file.safetensors", in directory: String) throws -> String {
    let path = "\(directory)/\(name)"
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    return path
}

/// A safetensors file with `header` as its JSON and `dataCount` zero bytes of data; the
/// declared header length is the header's length unless `declaredLength` says otherwise.
private func rawFile(header: String, dataCount: Int = 0, declaredLength: UInt64? = nil) -> [UInt8] {
    rawFile(headerBytes: Array(header.utf8), dataCount: dataCount, declaredLength: declaredLength)
}

private func rawFile(headerBytes: [UInt8], dataCount: Int = 0, declaredLength: UInt64? = nil) -> [UInt8] {
    let length = declaredLength ?? UInt64(headerBytes.count)
    return withUnsafeBytes(of: length.littleEndian, Array.init) + headerBytes
        + [UInt8](repeating: 0, count: dataCount)
}

private func bitPatterns(_ values: [Float]) -> [UInt32] {
    values.map(\.bitPattern)
}

// MARK: - Reading files from the reference writer

@Suite("SafeTensors")
struct SafeTensorsTests {
    @Test("reads every dtype of a file written by the Python library")
    func readsReferenceFile() throws {
        try withTemporaryDirectory { directory in
            let file = try SafeTensorsFile(path: try writeFile(ReferenceFiles.dtypes, in: directory))

            #expect(file.metadata == ["format": "pt", "note": "infinity fixture"])
            #expect(file.tensorNames == ["bf16", "bool", "empty", "f16", "f32", "f64", "f8_e4m3",
                                         "f8_e5m2", "i16", "i32", "i64", "i8", "scalar", "u8"])
            #expect(file.info("i64") == SafeTensorsFile.TensorInfo(
                dtype: .i64, shape: [2, 2], elementCount: 4, dataOffsets: 0 ..< 32))
            #expect(file.shape(of: "f32") == [2, 3])
            #expect(file.shape(of: "scalar") == [])
            #expect(file.shape(of: "nope") == nil)
            #expect(file.contains("bf16") && !file.contains("BF16"))

            // Bit patterns, so that -0 and subnormals are checked exactly.
            #expect(bitPatterns(try file.floats("f32"))
                == bitPatterns([0, -0.0, Float(bitPattern: 1), .greatestFiniteMagnitude, -1.5, 0.1]))
            let f16 = try file.floats("f16")
            #expect(bitPatterns(Array(f16[0 ..< 6])) == bitPatterns([0, -0.0, 65504, 0x1p-24, .infinity, -2.5]))
            #expect(f16[6].isNaN)
            #expect(f16[7] == 0x1p-14)
            #expect(bitPatterns(try file.floats("bf16")) == bitPatterns([1, -3.140625, -.infinity, 0x1p-133]))
            #expect(try file.floats("i64") == [-3, 0, 0x1p40, 7])
            #expect(try file.floats("f64") == [0.5, -.infinity])  // -1e300 is beyond Float's range
            #expect(try file.floats("i32") == [-2_147_483_648, 16_777_216])  // 16777217 rounds to even
            #expect(try file.floats("i16") == [-32768, 32767])
            #expect(try file.floats("i8") == [-128, 127])
            #expect(try file.floats("u8") == [0, 255])
            #expect(try file.floats("bool") == [1, 0, 1])
            let e4m3 = try file.floats("f8_e4m3")
            #expect(Array(e4m3[0 ..< 3]) == [448, -0x1p-9, 0.375])
            #expect(e4m3[3].isNaN)
            #expect(try file.floats("f8_e5m2") == [57344, -0x1p-16, .infinity, 1.5])
            #expect(try file.floats("empty") == [])
            #expect(file.shape(of: "empty") == [0, 4])
            #expect(try file.floats("scalar") == [42])
        }
    }

    @Test("raw bytes of a tensor come straight from the file")
    func rawBytes() throws {
        try withTemporaryDirectory { directory in
            let file = try SafeTensorsFile(path: try writeFile(ReferenceFiles.writerF16, in: directory))
            let bytes = try file.withUnsafeBytes(of: "x") { Array($0) }
            // 1.0, 0.1 and -65504 as little-endian halves.
            #expect(bytes == [0x00, 0x3C, 0x66, 0x2E, 0xFF, 0xFB])
        }
    }

    // MARK: - Writing

    @Test("F32 output is byte-identical to the Python library's")
    func writerMatchesReferenceF32() throws {
        try withTemporaryDirectory { directory in
            let path = "\(directory)/out.safetensors"
            try SafeTensorsWriter.write(
                [("b.weight", [2], [1, -2]), ("a.bias", [2, 2], [0.25, 3, -0.0, Float(bitPattern: 71362)])],
                metadata: ["format": "pt"], to: path)
            #expect(try [UInt8](Data(contentsOf: URL(fileURLWithPath: path))) == ReferenceFiles.writerF32)
        }
    }

    @Test("F16 output is byte-identical to the Python library's")
    func writerMatchesReferenceF16() throws {
        try withTemporaryDirectory { directory in
            let path = "\(directory)/out.safetensors"
            try SafeTensorsWriter.write(
                [("x", [3], [1, 0.1, -65504]), ("w", [1, 1], [0x1p-24])],
                metadata: ["format": "pt"], to: path, dtype: .f16)
            #expect(try [UInt8](Data(contentsOf: URL(fileURLWithPath: path))) == ReferenceFiles.writerF16)
        }
    }

    @Test("F32 round trip keeps every bit, names and metadata")
    func roundTripF32() throws {
        try withTemporaryDirectory { directory in
            let path = "\(directory)/out.safetensors"
            let special: [Float] = [0, -0.0, .infinity, -.infinity, Float(bitPattern: 0x7FC0_1234),
                                    Float(bitPattern: 1), .greatestFiniteMagnitude, -.leastNormalMagnitude]
            let ramp = (0 ..< 300_000).map { Float($0) * 0.37 - 5000 }  // spans several write buffers
            let metadata = ["format": "pt", "quote \"and\" back\\slash": "line\nbreak\ttab \u{1} é 🎬"]
            try SafeTensorsWriter.write(
                [("special", [2, 4], special), ("ramp", [300_000], ramp), ("empty", [3, 0], []),
                 ("scalar", [], [7]), ("naïve \"name\"", [1], [1])],
                metadata: metadata, to: path)

            let file = try SafeTensorsFile(path: path)
            #expect(file.metadata == metadata)
            #expect(file.tensorNames == ["empty", "naïve \"name\"", "ramp", "scalar", "special"])
            #expect(bitPatterns(try file.floats("special")) == bitPatterns(special))
            #expect(try file.floats("ramp") == ramp)
            #expect(file.shape(of: "empty") == [3, 0])
            #expect(try file.floats("scalar") == [7])
            #expect(try file.floats("naïve \"name\"") == [1])
            // The data buffer starts 8-byte aligned, as the reference writer makes it.
            #expect(file.info("empty")?.dataOffsets == 0 ..< 0)
            let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as! Int
            #expect((size - 4 * (8 + 300_000 + 1 + 1)) % 8 == 0)
        }
    }

    @Test("F16 round trip: exact for halves, nearest-even for the rest")
    func roundTripF16() throws {
        try withTemporaryDirectory { directory in
            let path = "\(directory)/out.safetensors"
            let exact: [Float] = [0, -0.0, 1, -2.5, 65504, 0x1p-24, 0x1p-14, 0x1.ff8p-15, .infinity, -.infinity]
            let rounded: [Float] = [0.1, 65519, 65520, 1e-8, 0x1.8p-24, 1 + 0x1p-11, 1 + 0x3p-11]
            try SafeTensorsWriter.write([("exact", [10], exact), ("rounded", [7], rounded), ("nan", [1], [.nan])],
                                        to: path, dtype: .f16)
            let file = try SafeTensorsFile(path: path)
            #expect(file.info("exact")?.dtype == .f16)
            #expect(bitPatterns(try file.floats("exact")) == bitPatterns(exact))
            // 0.1 -> 0x2E66; 65519 -> 65504; 65520 (halfway to 65536) -> inf; 1e-8 -> 0;
            // 1.5 * 2^-24 is a tie between 1 and 2 (x 2^-24) -> 2; 1 + 2^-11 ties to 1; 1 + 3 * 2^-11 ties to 1 + 2^-9.
            #expect(try file.floats("rounded") == [0.0999755859375, 65504, .infinity, 0, 0x1p-23, 1, 1 + 0x1p-9])
            #expect(try file.floats("nan")[0].isNaN)
        }
    }

    @Test("BF16 round trip: exact for bfloat16 values, nearest-even for the rest")
    func roundTripBF16() throws {
        try withTemporaryDirectory { directory in
            let path = "\(directory)/out.safetensors"
            let values: [Float] = [1, -3.140625, 0x1p-133, .infinity, 1 + 0x1p-8, 1 + 0x3p-8,
                                   .greatestFiniteMagnitude, 0.1]
            try SafeTensorsWriter.write([("w", [8], values), ("nan", [1], [-.nan])], to: path, dtype: .bf16)
            let file = try SafeTensorsFile(path: path)
            #expect(file.info("w")?.dataOffsets == 2 ..< 18)  // after "nan": data is laid out by name
            #expect(bitPatterns(try file.floats("w")) == bitPatterns(
                [1, -3.140625, 0x1p-133, .infinity, 1, 1 + 0x1p-6, .infinity, 0.10009765625]))
            let nan = try file.floats("nan")[0]
            #expect(nan.isNaN && nan.sign == .minus)
        }
    }

    // MARK: - Conversions

    @Test("half to float matches Float16 for all 65536 bit patterns")
    func halfToFloatExhaustive() {
        #if !(os(macOS) && arch(x86_64))
        var mismatches: [UInt16] = []
        for bits in UInt16.min ... UInt16.max {
            let ours = FloatBits.float(fromHalf: bits)
            let reference = Float(Float16(bitPattern: bits))
            let same = reference.isNaN
                ? ours.isNaN && ours.sign == reference.sign
                    && ours.bitPattern & 0x3F_FFFF == reference.bitPattern & 0x3F_FFFF  // payload, quiet bit aside
                : ours.bitPattern == reference.bitPattern
            if !same { mismatches.append(bits) }
        }
        #expect(mismatches.isEmpty)
        #endif
    }

    @Test("half special values convert exactly")
    func halfSpecialValues() {
        let cases: [(UInt16, Float)] = [
            (0x0000, 0), (0x8000, -0.0), (0x0001, 0x1p-24), (0x03FF, 0x1.ff8p-15), (0x0400, 0x1p-14),
            (0x3C00, 1), (0xC000, -2), (0x7BFF, 65504), (0x7C00, .infinity), (0xFC00, -.infinity),
        ]
        for (bits, value) in cases {
            #expect(FloatBits.float(fromHalf: bits).bitPattern == value.bitPattern, "half 0x\(String(bits, radix: 16))")
            #expect(FloatBits.half(from: value) == bits, "float \(value)")
        }
        // A signalling NaN keeps its payload and stays signalling; float NaN becomes a quiet half NaN.
        #expect(FloatBits.float(fromHalf: 0x7D01).bitPattern == 0x7FA0_2000)
        #expect(FloatBits.half(from: .nan) & 0x7E00 == 0x7E00)
        #expect(FloatBits.half(from: -.signalingNaN) & 0xFE00 == 0xFE00)
    }

    @Test("float to half rounds to nearest, ties to even, at every half boundary")
    func floatToHalfRoundsToNearestEven() {
        var failures: [String] = []
        // Every pair of adjacent finite non-negative halves: the lower maps to itself, the exact
        // midpoint to the even one, and one float ulp either side of it to the nearer.
        for bits in UInt16(0) ..< 0x7BFF {
            let low = FloatBits.float(fromHalf: bits)
            let high = FloatBits.float(fromHalf: bits + 1)
            let midpoint = (low + high) / 2  // exact: halves have 11 significant bits, Float 24
            let even = bits & 1 == 0 ? bits : bits + 1
            let checks: [(Float, UInt16)] = [(low, bits), (midpoint, even),
                                             (midpoint.nextDown, bits), (midpoint.nextUp, bits + 1)]
            for (value, expected) in checks {
                if FloatBits.half(from: value) != expected || FloatBits.half(from: -value) != expected | 0x8000 {
                    failures.append("\(value) -> 0x\(String(FloatBits.half(from: value), radix: 16))")
                }
            }
        }
        #expect(failures.isEmpty, "\(failures.prefix(5))")
        #expect(FloatBits.half(from: 65520) == 0x7C00)
        #expect(FloatBits.half(from: Float(65520).nextDown) == 0x7BFF)
        #expect(FloatBits.half(from: 0x1p-25) == 0)
        #expect(FloatBits.half(from: Float(0x1p-25).nextUp) == 0x0001)
        #expect(FloatBits.half(from: .leastNonzeroMagnitude) == 0)
        #expect(FloatBits.half(from: 1e30) == 0x7C00)
    }

    @Test("float to half matches Float16 on a million pseudo-random floats")
    func floatToHalfMatchesFloat16() {
        #if !(os(macOS) && arch(x86_64))
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        var mismatches = 0
        for _ in 0 ..< 1_000_000 {
            // xorshift64: reproducible bit patterns spread over the whole float range
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            let value = Float(bitPattern: UInt32(truncatingIfNeeded: state))
            guard !value.isNaN else { continue }
            if FloatBits.half(from: value) != Float16(value).bitPattern { mismatches += 1 }
        }
        #expect(mismatches == 0)
        #endif
    }

    @Test("bfloat16 and FP8 conversions")
    func narrowFloatConversions() {
        #expect(FloatBits.bfloat16(from: 1 + 0x1p-8) == 0x3F80)  // tie to even (down)
        #expect(FloatBits.bfloat16(from: 1 + 0x3p-8) == 0x3F82)  // tie to even (up)
        #expect(FloatBits.bfloat16(from: .greatestFiniteMagnitude) == 0x7F80)
        #expect(FloatBits.bfloat16(from: Float(bitPattern: 0x7F80_0001)) & 0x7FC0 == 0x7FC0)
        #expect(FloatBits.float(fromBFloat16: 0x0001) == 0x1p-133)
        #expect(FloatBits.float(fromBFloat16: 0xFF80) == -.infinity)

        // E4M3 (fn): bias 7, subnormals m * 2^-9, max 448, NaN only at S.1111.111.
        #expect(FloatBits.float(fromE4M3: 0x01) == 0x1p-9)
        #expect(FloatBits.float(fromE4M3: 0x07) == 0x1.cp-7)
        #expect(FloatBits.float(fromE4M3: 0x08) == 0x1p-6)
        #expect(FloatBits.float(fromE4M3: 0x38) == 1)
        #expect(FloatBits.float(fromE4M3: 0x7E) == 448)
        #expect(FloatBits.float(fromE4M3: 0xFE) == -448)
        #expect(FloatBits.float(fromE4M3: 0x78) == 256)  // exponent 15 is finite in E4M3
        #expect(FloatBits.float(fromE4M3: 0x80).bitPattern == (-0.0 as Float).bitPattern)
        #expect(FloatBits.float(fromE4M3: 0x7F).isNaN && FloatBits.float(fromE4M3: 0xFF).isNaN)

        // E5M2: the top byte of a half.
        #expect(FloatBits.float(fromE5M2: 0x01) == 0x1p-16)
        #expect(FloatBits.float(fromE5M2: 0x7B) == 57344)
        #expect(FloatBits.float(fromE5M2: 0x7C) == .infinity)
        #expect(FloatBits.float(fromE5M2: 0xFF).isNaN)
    }

    // MARK: - Large files

    #if canImport(Glibc)
    @Test("opening a 512 MiB file reads only its header")
    func opensLargeFileLazily() throws {
        try withTemporaryDirectory { directory in
            let count = 512 << 20
            var header = Array(#"{"big":{"dtype":"U8","shape":[\#(count)],"data_offsets":[0,\#(count)]}}"#.utf8)
            header += repeatElement(UInt8(ascii: " "), count: (8 - header.count % 8) % 8)
            let path = try writeFile(rawFile(headerBytes: header), in: directory)
            // Extend the file without writing: the data is a hole, in no page cache.
            #expect(truncate(path, off_t(8 + header.count + count)) == 0)

            let file = try SafeTensorsFile(path: path)
            #expect(file.info("big")?.elementCount == count)
            let residentBytes = try file.withUnsafeBytes(of: "big") { bytes -> Int in
                let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
                let address = UInt(bitPattern: bytes.baseAddress!)
                let pageStart = address & ~UInt(pageSize - 1)
                let length = bytes.count + Int(address - pageStart)
                var residency = [UInt8](repeating: 0, count: (length + pageSize - 1) / pageSize)
                guard mincore(UnsafeMutableRawPointer(bitPattern: pageStart), length, &residency) == 0 else {
                    return -1
                }
                return residency.count { $0 & 1 != 0 } * pageSize
            }
            #expect(residentBytes >= 0 && residentBytes < 32 << 20, "\(residentBytes) bytes resident")
        }
    }
    #endif

    // MARK: - Errors on lookup

    @Test("a missing tensor's error names it and a few close names, not all of them")
    func missingTensor() throws {
        try withTemporaryDirectory { directory in
            let path = "\(directory)/many.safetensors"
            let tensors = (0 ..< 500).map { ("down_blocks.\($0).weight", [1], [Float(1)]) }
            try SafeTensorsWriter.write(tensors, to: path)
            let file = try SafeTensorsFile(path: path)
            let error = #expect(throws: ModelError.self) { try file.floats("down_blocks.7.wieght") }
            let message = error?.message ?? ""
            #expect(message.contains(path))
            #expect(message.contains("has no tensor 'down_blocks.7.wieght' (it holds 500 tensors"))
            #expect(message.contains("closest: 'down_blocks.7.weight'"))
            #expect(message.count < 300)
        }
    }

    @Test("a dtype that does not convert to Float is named in the error")
    func unconvertibleDType() throws {
        try withTemporaryDirectory { directory in
            let path = try writeFile(rawFile(header: #"{"z":{"dtype":"C64","shape":[1],"data_offsets":[0,8]}}"#,
                                         dataCount: 8), in: directory)
            let file = try SafeTensorsFile(path: path)
            #expect(file.info("z")?.dtype == .c64)
            let error = #expect(throws: ModelError.self) { try file.floats("z") }
            #expect(error?.message == "safetensors file '\(path)': tensor 'z' has dtype C64, "
                + "which cannot be converted to Float")
        }
    }

    @Test("a missing file or a directory is a clear error")
    func unopenablePaths() throws {
        try withTemporaryDirectory { directory in
            let missing = #expect(throws: ModelError.self) { try SafeTensorsFile(path: "\(directory)/absent") }
            #expect(missing?.message == "cannot open '\(directory)/absent': No such file or directory")
            let folder = #expect(throws: ModelError.self) { try SafeTensorsFile(path: directory) }
            #expect(folder?.message == "'\(directory)' is not a regular file")
        }
    }

    @Test("the writer rejects bad input with a message naming the tensor")
    func writerErrors() throws {
        try withTemporaryDirectory { directory in
            let path = "\(directory)/out.safetensors"
            func message(_ tensors: [(name: String, shape: [Int], values: [Float])], to target: String? = nil) -> String {
                let error = #expect(throws: ModelError.self) { try SafeTensorsWriter.write(tensors, to: target ?? path) }
                return error?.message ?? ""
            }
            let prefix = "cannot write safetensors file '\(path)': "
            #expect(message([("a", [1], [1]), ("a", [1], [2])]) == prefix + "tensor name 'a' appears twice")
            #expect(message([("a", [2, 3], [1, 2])])
                == prefix + "shape [2, 3] of tensor 'a' has 6 elements but 2 values were given")
            #expect(message([("a", [-1], [])]) == prefix + "shape [-1] of tensor 'a' has a negative extent")
            #expect(message([("a", [Int.max, 2], [])]) == prefix + "shape [\(Int.max), 2] of tensor 'a' has too many elements")
            #expect(message([("__metadata__", [1], [1])]).contains("'__metadata__' is reserved"))
            #expect(message([("a", [1], [1])], to: "\(directory)/no/such/dir/x.safetensors")
                .contains("No such file or directory"))
            // Nothing was left behind by the failures.
            let leftovers = try FileManager.default.contentsOfDirectory(atPath: directory)
            #expect(leftovers.isEmpty)
        }
    }

    // MARK: - Malformed files

    /// A malformed file and the text its error must contain (after the file's path).
    struct MalformedFile: Sendable, CustomTestStringConvertible {
        let name: String
        let bytes: [UInt8]
        let expected: String
        var testDescription: String { name }

        init(_ name: String, _ bytes: [UInt8], _ expected: String) {
            self.name = name
            self.bytes = bytes
            self.expected = expected
        }

        init(_ name: String, header: String, dataCount: Int = 0, _ expected: String) {
            self.init(name, rawFile(header: header, dataCount: dataCount), expected)
        }
    }

    static let malformedFiles: [MalformedFile] = [
        MalformedFile("empty file", [], "file is 0 bytes, shorter than the 8-byte header length"),
        MalformedFile("file shorter than 8 bytes", [1, 0, 0, 0, 0], "file is 5 bytes, shorter than the 8-byte header length"),
        MalformedFile("header length beyond the file", rawFile(header: "{}", declaredLength: 100),
                      "header length 100 runs past the end of the 10-byte file (truncated file?)"),
        MalformedFile("absurd header length", rawFile(header: "{}", declaredLength: .max),
                      "header length 18446744073709551615 exceeds the limit of 100000000 bytes"),
        MalformedFile("header not UTF-8", rawFile(headerBytes: [0x7B, 0xFF, 0x7D]), "header is not valid UTF-8"),
        MalformedFile("header not JSON", header: #"{"a": "#,
                      "header is not valid JSON: unexpected end of header at byte 6 of the header"),
        MalformedFile("garbage after the JSON", header: "{}  x",
                      "header is not valid JSON: unexpected 'x' after the value at byte 4"),
        MalformedFile("header an array", header: "[1, 2]", "header is an array, not a JSON object"),
        MalformedFile("duplicate tensor name", header: #"{"a":{},"a":{}}"#, #"duplicate key "a" at byte 8"#),
        MalformedFile("nesting too deep", header: String(repeating: "[", count: 100), "nesting deeper than 64 levels"),
        MalformedFile("control character in a string", header: "{\"a\u{1}\":1}", "control character 0x1 inside a string"),
        MalformedFile("unpaired surrogate", header: #"{"\ud800x":1}"#, #"unpaired surrogate in \u escape"#),
        MalformedFile("metadata value not a string", header: #"{"__metadata__":{"k":1}}"#,
                      "__metadata__ value for 'k' is a number, not a string"),
        MalformedFile("metadata not an object", header: #"{"__metadata__":"x"}"#,
                      "__metadata__ is a string, not an object of strings"),
        MalformedFile("tensor entry not an object", header: #"{"w":3}"#, "entry for tensor 'w' is a number, not an object"),
        MalformedFile("missing dtype", header: #"{"w":{"shape":[1],"data_offsets":[0,4]}}"#, dataCount: 4,
                      "tensor 'w' has no dtype"),
        MalformedFile("missing shape", header: #"{"w":{"dtype":"F32","data_offsets":[0,4]}}"#, dataCount: 4,
                      "tensor 'w' has no shape"),
        MalformedFile("missing data_offsets", header: #"{"w":{"dtype":"F32","shape":[1]}}"#, dataCount: 4,
                      "tensor 'w' has no data_offsets"),
        MalformedFile("dtype not a string", header: #"{"w":{"dtype":32,"shape":[1],"data_offsets":[0,4]}}"#,
                      dataCount: 4, "dtype of tensor 'w' is a number, not a string"),
        MalformedFile("unknown dtype", header: #"{"w":{"dtype":"F7","shape":[1],"data_offsets":[0,4]}}"#,
                      dataCount: 4, "tensor 'w' has unknown dtype 'F7'"),
        MalformedFile("shape not an array", header: #"{"w":{"dtype":"F32","shape":4,"data_offsets":[0,16]}}"#,
                      dataCount: 16, "shape of tensor 'w' is a number, not an array"),
        MalformedFile("negative extent", header: #"{"w":{"dtype":"F32","shape":[2,-1],"data_offsets":[0,4]}}"#,
                      dataCount: 4, "shape[1] of tensor 'w' is -1; extents must be non-negative integers"),
        MalformedFile("fractional extent", header: #"{"w":{"dtype":"F32","shape":[2.5],"data_offsets":[0,4]}}"#,
                      dataCount: 4, "shape[0] of tensor 'w' is 2.5; extents must be non-negative integers"),
        MalformedFile("extent beyond Int", header: #"{"w":{"dtype":"F32","shape":[99999999999999999999],"data_offsets":[0,4]}}"#,
                      dataCount: 4, "shape[0] of tensor 'w' is 99999999999999999999; extents must be non-negative integers"),
        MalformedFile("extent a string", header: #"{"w":{"dtype":"F32","shape":["4"],"data_offsets":[0,16]}}"#,
                      dataCount: 16, #"shape[0] of tensor 'w' is "4"; extents must be non-negative integers"#),
        MalformedFile("shape product overflows", header: #"{"w":{"dtype":"F32","shape":[4294967296,4294967296,4],"data_offsets":[0,0]}}"#,
                      "shape [4294967296, 4294967296, 4] of tensor 'w' has too many elements (overflow)"),
        MalformedFile("one offset", header: #"{"w":{"dtype":"F32","shape":[1],"data_offsets":[4]}}"#, dataCount: 4,
                      "data_offsets of tensor 'w' must be an array of two integers"),
        MalformedFile("negative offset", header: #"{"w":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}}"#,
                      dataCount: 4, "data_offsets of tensor 'w' are [-4, 0]; offsets must be non-negative integers"),
        MalformedFile("offsets out of order", header: #"{"w":{"dtype":"F32","shape":[0],"data_offsets":[8,4]}}"#,
                      dataCount: 8, "data_offsets of tensor 'w' are [8, 4]: begin is after end"),
        MalformedFile("byte count not matching shape and dtype", header: #"{"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,12]}}"#,
                      dataCount: 12, "tensor 'w' is F32 with shape [2, 2], which needs 16 bytes, but its data_offsets [0, 12] span 12"),
        MalformedFile("sub-byte elements not filling a byte", header: #"{"w":{"dtype":"F4","shape":[3],"data_offsets":[0,1]}}"#,
                      dataCount: 1, "tensor 'w' has 3 F4 elements, which do not fill a whole number of bytes"),
        MalformedFile("overlapping tensors",
                      header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#,
                      dataCount: 12, "tensors 'a' [0, 8] and 'b' [4, 12] overlap"),
        MalformedFile("gap between tensors",
                      header: #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}"#,
                      dataCount: 12, "data bytes [4, 8) belong to no tensor (tensor 'b' begins at 8)"),
        MalformedFile("data not starting at 0", header: #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#,
                      dataCount: 8, "data bytes [0, 4) belong to no tensor (tensor 'a' begins at 4)"),
        MalformedFile("truncated data", header: #"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#,
                      dataCount: 9, "tensor 'a' ends at data byte 16 but the data buffer holds only 9 bytes (truncated file?)"),
        MalformedFile("bytes after the last tensor", header: #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#,
                      dataCount: 8, "the last 4 bytes of the data buffer belong to no tensor"),
    ]

    @Test("a malformed file is rejected with a message naming the file and the problem",
          arguments: malformedFiles)
    func rejectsMalformedFile(_ malformed: MalformedFile) throws {
        try withTemporaryDirectory { directory in
            let path = try writeFile(malformed.bytes, in: directory)
            let error = #expect(throws: ModelError.self) { try SafeTensorsFile(path: path) }
            let message = error?.message ?? ""
            #expect(message.hasPrefix("safetensors file '\(path)': "), "\(message)")
            #expect(message.contains(malformed.expected), "\(message)")
        }
    }

    @Test("corrupted and truncated copies of a valid file open or fail cleanly, never crash")
    func survivesCorruption() throws {
        try withTemporaryDirectory { directory in
            let original = ReferenceFiles.dtypes
            var state: UInt64 = 0x2545_F491_4F6C_DD1D
            func next(_ bound: Int) -> Int {
                state ^= state << 13; state ^= state >> 7; state ^= state << 17  // xorshift64
                return Int(state % UInt64(bound))
            }
            var opened = 0
            for trial in 0 ..< 1000 {
                var bytes = original
                if trial % 4 == 0 {
                    bytes.removeLast(1 + next(bytes.count))
                } else {
                    for _ in 0 ... next(3) {
                        bytes[next(bytes.count)] = UInt8(truncatingIfNeeded: next(256))
                    }
                }
                let path = try writeFile(bytes, named: "trial\(trial)", in: directory)
                guard let file = try? SafeTensorsFile(path: path) else { continue }
                opened += 1
                for name in file.tensorNames where file.info(name)!.dtype.convertsToFloat {
                    #expect(try file.floats(name).count == file.info(name)!.elementCount)
                }
            }
            // Some corruptions are harmless (a digit of a value, a byte of data); most are not.
            #expect(opened > 0 && opened < 1000)
        }
    }

    @Test("header padding and empty files are accepted")
    func acceptsEdgeCases() throws {
        try withTemporaryDirectory { directory in
            let padded = try SafeTensorsFile(path: try writeFile(rawFile(header: "{}        "), named: "a", in: directory))
            #expect(padded.tensorNames.isEmpty && padded.metadata.isEmpty)
            let zeroSized = try SafeTensorsFile(path: try writeFile(rawFile(
                header: #"{"a":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},"b":{"dtype":"BF16","shape":[1],"data_offsets":[0,2]},"c":{"dtype":"I8","shape":[0,3],"data_offsets":[2,2]}}"#,
                dataCount: 2), named: "b", in: directory))
            #expect(zeroSized.tensorNames == ["a", "b", "c"])
            #expect(try zeroSized.floats("b") == [0])
            let escaped = try SafeTensorsFile(path: try writeFile(rawFile(
                header: #"{"__metadata__":{"k\u00e9\n":"\ud83c\udfac\/"}}"#), named: "c", in: directory))
            #expect(escaped.metadata == ["ké\n": "🎬/"])
        }
    }
}
