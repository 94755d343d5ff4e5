/// Turns a video's latents `[C, F, H, W]` (row-major floats) into RGB frames.
///
/// - 3 channels: the model works in pixel space with values in [-1, 1]; each value becomes
///   `round(clamp((x + 1) / 2, 0, 1) * 255)`.
/// - 4 channels: the latent space of the Stable Diffusion VAE (SD 1.x, VideoCrafter2,
///   ModelScope text-to-video). This project has no VAE decoder yet, so each latent pixel is
///   mapped to RGB by the linear *approximation* that UIs use for previews (see
///   ``stableDiffusionLatentToRGB``), then the same `(x + 1) / 2` mapping, and shown as a
///   `scale` x `scale` block (nearest-neighbour upscaling; the VAE upsamples 8x). Colours and
///   layout are right in broad strokes only: it is a preview, not the decoded video.
/// - Any other channel count is an error.
public struct LatentDecoder: Sendable {
    /// The linear latent-to-RGB map for the SD 1.x VAE latent space (applied to the scaled
    /// latents the UNet denoises, i.e. before dividing by 0.18215): `rgb[j] = sum_c latent[c] *
    /// factors[c][j]`, rows are latent channels, columns R, G, B.
    ///
    /// Source: ComfyUI, `comfy/latent_formats.py`, class `SD15`, `latent_rgb_factors`
    /// (https://github.com/comfyanonymous/ComfyUI/blob/master/comfy/latent_formats.py), used by
    /// its `Latent2RGBPreviewer` (latent_preview.py) followed by `((x + 1) / 2).clamp(0, 1) * 255`;
    /// stable-diffusion.cpp's latent-preview.h uses the same values. (AUTOMATIC1111's
    /// "Approx cheap" preview is the same method with an older fit of this matrix.)
    public static let stableDiffusionLatentToRGB: [[Float]] = [
        [0.3512, 0.2297, 0.3227],
        [0.3250, 0.4974, 0.2350],
        [-0.2829, 0.1762, 0.2721],
        [-0.2120, -0.2616, -0.7177],
    ]

    /// The upscaling factor for 4-channel latents (each latent pixel becomes a `scale` x
    /// `scale` block). Pixel-space (3-channel) latents are never scaled.
    public let scale: Int

    /// A decoder that upscales VAE latents by `scale` (1...64; 8 matches the SD VAE).
    public init(scale: Int = 8) throws {
        guard (1 ... 64).contains(scale) else {
            throw MediaError("latent decoder scale must be in 1...64, got \(scale)")
        }
        self.scale = scale
    }

    /// Whether 4-channel latents go through the preview approximation (true) or `channels`
    /// are decoded exactly (false); throws for a channel count this decoder cannot handle.
    public static func isApproximate(channels: Int) throws -> Bool {
        switch channels {
        case 3: return false
        case 4: return true
        default:
            throw MediaError("cannot turn latents with \(channels) channels into RGB: expected 3 (pixel space) or 4 (Stable Diffusion VAE latents)")
        }
    }

    /// The frames of `latents`, whose layout is `shape` = `[C, F, H, W]`.
    public func decode(latents: [Float], shape: [Int]) throws -> VideoFrames {
        guard shape.count == 4, shape.allSatisfy({ $0 > 0 }) else {
            throw MediaError("latents must have shape [channels, frames, height, width] with every size positive, got \(shape)")
        }
        let (channels, frameCount, height, width) = (shape[0], shape[1], shape[2], shape[3])
        guard latents.count == shape.reduce(1, *) else {
            throw MediaError("latents of shape \(shape) need \(shape.reduce(1, *)) values, got \(latents.count)")
        }
        let approximate = try Self.isApproximate(channels: channels)
        let planeSize = height * width
        let channelStride = frameCount * planeSize
        let factor = approximate ? scale : 1
        let outWidth = width * factor
        let outHeight = height * factor

        var frames: [[UInt8]] = []
        frames.reserveCapacity(frameCount)
        for frame in 0 ..< frameCount {
            // One RGB triple per latent pixel, then replicated into factor x factor blocks.
            var small = [UInt8](repeating: 0, count: planeSize * 3)
            for pixel in 0 ..< planeSize {
                let base = frame * planeSize + pixel
                for component in 0 ..< 3 {
                    var value: Float
                    if approximate {
                        value = 0
                        for channel in 0 ..< 4 {
                            value += latents[channel * channelStride + base] * Self.stableDiffusionLatentToRGB[channel][component]
                        }
                    } else {
                        value = latents[component * channelStride + base]
                    }
                    guard !value.isNaN else {
                        throw MediaError("latents hold NaN at frame \(frame), row \(pixel / width), column \(pixel % width)")
                    }
                    small[pixel * 3 + component] = Self.byte(value)
                }
            }
            guard factor > 1 else {
                frames.append(small)
                continue
            }
            var big = [UInt8]()
            big.reserveCapacity(outWidth * outHeight * 3)
            for y in 0 ..< outHeight {
                let row = (y / factor) * width
                for x in 0 ..< outWidth {
                    let source = (row + x / factor) * 3
                    big.append(small[source])
                    big.append(small[source + 1])
                    big.append(small[source + 2])
                }
            }
            frames.append(big)
        }
        return VideoFrames(checkedWidth: outWidth, height: outHeight, frames: frames)
    }

    /// `round(clamp((value + 1) / 2, 0, 1) * 255)` for a value that is not NaN.
    static func byte(_ value: Float) -> UInt8 {
        let unit = min(max((value + 1) / 2, 0), 1)
        return UInt8((unit * 255).rounded())
    }
}
