/// The NumPy routines diffusers builds timestep lists with, reproduced to the last bit so that
/// every step count yields the same integer timesteps.
enum TimestepGrid {
    /// `np.linspace(0, stop, count)` (float64, endpoint included).
    static func linspace(to stop: Double, count: Int) -> [Double] {
        guard count > 1 else { return count == 1 ? [0] : [] }
        let step = stop / Double(count - 1)
        var values = (0..<count).map { Double($0) * step }
        // NumPy pins the endpoint to `stop` instead of trusting the product.
        values[count - 1] = stop
        return values
    }

    /// `np.arange(start, 0, -step)` for a positive float `step`.
    static func arangeDown(from start: Double, step: Double) -> [Double] {
        let length = Int(((0 - start) / -step).rounded(.up))
        guard length > 0 else { return [] }
        guard length > 1 else { return [start] }
        // NumPy writes the first two values, then fills the rest with the step it reads back from
        // them, which can differ from `step` in the last bit.
        let second = start - step
        let delta = second - start
        return [start, second] + (2..<length).map { start + Double($0) * delta }
    }

    /// `np.round(value)` (half to even) as an integer.
    static func round(_ value: Double) -> Int {
        Int(value.rounded(.toNearestOrEven))
    }

    /// Throws unless every timestep indexes the training schedule.
    static func checkRange(_ timesteps: [Int], config: SchedulerConfig, steps: Int, scheduler: String) throws {
        if let bad = timesteps.first(where: { !(0..<config.numTrainTimesteps).contains($0) }) {
            throw ModelError("\(scheduler): \(steps) steps with steps_offset \(config.stepsOffset) give timestep \(bad), "
                + "outside the training range 0..<\(config.numTrainTimesteps)")
        }
    }
}
