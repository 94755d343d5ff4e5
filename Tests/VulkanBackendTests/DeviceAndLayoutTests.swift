#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Tensor
import Testing
@testable import VulkanBackend

/// Choosing a device, the strided-walk simplification behind the copy and add kernels, and the
/// errors a misconfigured machine gets.
@Suite("Vulkan devices, layouts and errors")
struct DeviceAndLayoutTests {
    // MARK: VulkanDeviceInfo.choose (pure)

    /// A device description without a Vulkan driver.
    static func device(_ index: Int, _ name: String, _ kind: VulkanDeviceInfo.Kind) -> VulkanDeviceInfo {
        VulkanDeviceInfo(index: index, name: name, kind: kind, vendorID: 0x10de, apiVersion: "1.3.280",
                         memoryBytes: (8 << 30) + index)
    }

    static func devices(_ kinds: [VulkanDeviceInfo.Kind]) -> [VulkanDeviceInfo] {
        kinds.enumerated().map { device($0.offset, "device \($0.offset) (\($0.element.rawValue))", $0.element) }
    }

    @Test func describesADevice() {
        let info = Self.device(2, "Test GPU", .discrete)
        #expect(info.index == 2 && info.name == "Test GPU" && info.kind == .discrete && info.memoryBytes == (8 << 30) + 2)
        #expect(info.description == "2: Test GPU (discrete GPU, Vulkan 1.3.280, 8192 MiB)")
    }

    /// No index: the first discrete GPU, else integrated, virtual, CPU, other.
    @Test(arguments: [
        ([.cpu, .integrated, .discrete, .discrete], 2),
        ([.cpu, .virtual, .integrated], 2),
        ([.other, .cpu, .virtual], 2),
        ([.other, .cpu], 1),
        ([.other], 0),
        ([.cpu, .cpu], 0),
        ([.integrated, .other, .discrete], 2),
    ] as [([VulkanDeviceInfo.Kind], Int)])
    func choosesByPreference(kinds: [VulkanDeviceInfo.Kind], expected: Int) throws {
        let devices = Self.devices(kinds)
        #expect(try VulkanDeviceInfo.choose(nil, among: devices) == devices[expected])
    }

    /// An index picks that device whatever its kind.
    @Test func anIndexWins() throws {
        let devices = Self.devices([.discrete, .cpu, .integrated])
        #expect(try VulkanDeviceInfo.choose(1, among: devices) == devices[1])
        #expect(try VulkanDeviceInfo.choose(0, among: devices) == devices[0])
    }

    /// An index out of range names the index and every device there is.
    @Test(arguments: [3, 99, -1])
    func outOfRangeIndexNamesTheDevices(index: Int) throws {
        let devices = Self.devices([.discrete, .cpu, .integrated])
        #expect {
            _ = try VulkanDeviceInfo.choose(index, among: devices)
        } throws: { error in
            guard let message = (error as? TensorError)?.message else { return false }
            return message.contains("--device \(index) does not exist")
                && devices.allSatisfy { message.contains($0.name) && message.contains($0.description) }
        }
    }

    @Test func noDevicesIsAnError() throws {
        #expect {
            _ = try VulkanDeviceInfo.choose(nil, among: [])
        } throws: { error in
            (error as? TensorError)?.message.contains("no Vulkan device") == true
        }
    }

    // MARK: StridedLayout (pure)

    @Test func contiguousOperandsMergeIntoOneAxis() {
        let layout = StridedLayout(extents: [2, 3, 4], strides: [[12, 4, 1], [12, 4, 1]])
        #expect(layout.extents == [24])
        #expect(layout.strides == [[1], [1]])
        #expect(layout.paddedExtents == [1, 1, 1, 1, 1, 24])
        #expect(layout.paddedStrides(0) == [0, 0, 0, 0, 0, 1])
    }

    @Test func extentOneAxesAreDroppedWhateverTheirStride() {
        let layout = StridedLayout(extents: [2, 1, 3, 1], strides: [[3, 99, 1, 7], [3, 5, 1, 0]])
        #expect(layout.extents == [6])
        #expect(layout.strides == [[1], [1]])
    }

    @Test func allExtentOneLeavesNoAxis() {
        let layout = StridedLayout(extents: [1, 1], strides: [[1, 1]])
        #expect(layout.extents.isEmpty)
        #expect(layout.paddedExtents == [1, 1, 1, 1, 1, 1])
        #expect(layout.paddedStrides(0) == [0, 0, 0, 0, 0, 0])
        #expect(StridedLayout(extents: [], strides: [[], []]).paddedExtents == [1, 1, 1, 1, 1, 1])
    }

    /// Axes merge only where every operand steps through them as through one axis.
    @Test func axesMergeOnlyWhereEveryOperandAllows() {
        // A transpose of the last two axes of [2, 3, 4]: the source walks [12, 1, 3].
        let transposed = StridedLayout(extents: [2, 4, 3], strides: [[12, 1, 4], [12, 3, 1]])
        #expect(transposed.extents == [2, 4, 3])
        // [B, C, F, H, W] -> [B, F, C, H, W]: H and W merge, the rest keep their strides.
        let video = StridedLayout(extents: [2, 3, 5, 4, 6], strides: [[360, 24, 72, 6, 1], [360, 120, 24, 6, 1]])
        #expect(video.extents == [2, 3, 5, 24])
        #expect(video.strides == [[360, 24, 72, 1], [360, 120, 24, 1]])
        // A per-channel bias [C, 1, 1] on [N, C, H, W]: H and W merge, N and C keep apart.
        let bias = StridedLayout(extents: [2, 3, 4, 5], strides: [[60, 20, 5, 1], [0, 1, 0, 0]])
        #expect(bias.extents == [2, 3, 20])
        #expect(bias.strides == [[60, 20, 1], [0, 1, 0]])
        // Leading broadcast axes merge with each other when the broadcast operand stays put.
        let rows = StridedLayout(extents: [2, 5, 7], strides: [[35, 7, 1], [0, 0, 1]])
        #expect(rows.extents == [10, 7])
        #expect(rows.strides == [[7, 1], [0, 1]])
        #expect(rows.paddedExtents == [1, 1, 1, 1, 10, 7])
        #expect(rows.paddedStrides(1) == [0, 0, 0, 0, 0, 1])
    }

    @Test func sixAxesFitAndSevenDoNot() {
        let six = StridedLayout(extents: [2, 2, 2, 2, 2, 2], strides: [[1, 2, 4, 8, 16, 32], [32, 16, 8, 4, 2, 1]])
        #expect(six.paddedExtents == [2, 2, 2, 2, 2, 2])
        #expect(six.paddedStrides(0) == [1, 2, 4, 8, 16, 32])
        let seven = StridedLayout(extents: [2, 2, 2, 2, 2, 2, 2],
                                  strides: [[1, 2, 4, 8, 16, 32, 64], [64, 32, 16, 8, 4, 2, 1]])
        #expect(seven.extents.count == 7)
        #expect(seven.paddedExtents == nil)
        // Seven axes that merge down to fewer are fine.
        let merged = StridedLayout(extents: [2, 1, 3, 2, 4, 1, 5],
                                   strides: [[120, 120, 40, 20, 5, 5, 1], [0, 0, 20, 0, 5, 5, 1]])
        #expect(merged.paddedExtents != nil)
    }

    // MARK: Errors

    /// A device index the machine does not have: a TensorError naming the index and the devices.
    @Test func missingDeviceIndexThrows() throws {
        let devices = try VulkanBackend.devices()
        #expect(!devices.isEmpty)
        #expect {
            _ = try VulkanBackend(device: 99)
        } throws: { error in
            guard let message = (error as? TensorError)?.message else { return false }
            return message.contains("--device 99 does not exist") && devices.allSatisfy { message.contains($0.name) }
        }
    }

    /// A shader folder without the SPIR-V: a TensorError naming the folder searched (an explicit
    /// folder is the only one searched, whatever INFINITY_SHADER_DIR says).
    @Test func missingShaderDirectoryThrows() throws {
        #expect {
            _ = try VulkanBackend(shaderDirectory: "/nonexistent")
        } throws: { error in
            guard let message = (error as? TensorError)?.message else { return false }
            return message.contains("/nonexistent") && message.contains("linear.spv")
        }
    }

    /// A folder with a `linear.spv` that is not SPIR-V: the backend opens (shaders load on first
    /// use), and the first op that needs the kernel throws, naming the file; a kernel missing
    /// from the folder throws naming its path.
    @Test func corruptOrMissingShaderThrowsOnUse() throws {
        let folder = "/tmp/vulkan-backend-tests-\(getpid())"
        mkdir(folder, 0o755)
        defer {
            unlink(folder + "/linear.spv")
            rmdir(folder)
        }
        let file = fopen(folder + "/linear.spv", "wb")!
        let garbage = [UInt8](repeating: 0x2A, count: 64)
        fwrite(garbage, 1, garbage.count, file)
        fclose(file)

        let backend = try VulkanBackend(shaderDirectory: folder, cooperativeMatrix: .off)
        let x = try backend.upload([1, 2], shape: [1, 2])
        #expect {
            _ = try backend.linear(x, weight: x, bias: nil)
        } throws: { error in
            (error as? TensorError)?.message.contains(folder + "/linear.spv") == true
        }
        #expect {
            _ = try backend.scale(x, by: 2)
        } throws: { error in
            (error as? TensorError)?.message.contains(folder + "/pointwise.spv") == true
        }
    }

    /// The device list names the device the default backend runs on.
    @Test func defaultBackendRunsOnAListedDevice() throws {
        let backend = try Parity.vulkan()
        let devices = try VulkanBackend.devices()
        #expect(devices.contains(backend.device))
        #expect(backend.name == "vulkan: \(backend.device.name)")
        #expect(try VulkanDeviceInfo.choose(nil, among: devices).index == backend.device.index)
    }
}
