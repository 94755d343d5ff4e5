import Glibc
import Testing
@testable import Media

@Suite("ProgressRenderer")
struct ProgressRendererTests {
    let plain = ProgressRenderer(style: .plain)
    let bar = ProgressRenderer(style: .bar(width: 10))

    @Test("plain lines")
    func plainLines() {
        #expect(plain.render(ProgressSnapshot(step: 3, steps: 10, clips: 4, elapsed: 12.3))
            == "step 3/10 x 4 clips  elapsed 12.3 s  eta 28.7 s")
        #expect(plain.render(ProgressSnapshot(step: 0, steps: 30, clips: 1, elapsed: 0.04))
            == "step 0/30 x 1 clip  elapsed 0.0 s  eta unknown")
        #expect(plain.render(ProgressSnapshot(step: 2, steps: 2, clips: 3, elapsed: 5, exchangeFraction: 0.254))
            == "step 2/2 x 3 clips  elapsed 5.0 s  eta 0.0 s  exchange 25%")
    }

    @Test("terminal bars")
    func bars() {
        #expect(bar.render(ProgressSnapshot(step: 3, steps: 10, clips: 4, elapsed: 12.3))
            == "\r[###.......] step 3/10 x 4 clips  12.3 s elapsed  ETA 28.7 s\u{1B}[K")
        #expect(bar.render(ProgressSnapshot(step: 0, steps: 7, clips: 2, elapsed: 0))
            == "\r[..........] step 0/7 x 2 clips  0.0 s elapsed  ETA --\u{1B}[K")
        #expect(bar.render(ProgressSnapshot(step: 5, steps: 7, clips: 2, elapsed: 10, exchangeFraction: 1.5))
            == "\r[#######...] step 5/7 x 2 clips  10.0 s elapsed  ETA 4.0 s  exchange 100%\u{1B}[K")
        // The last step ends the line so what follows starts on a fresh one.
        #expect(bar.render(ProgressSnapshot(step: 10, steps: 10, clips: 4, elapsed: 41.05))
            == "\r[##########] step 10/10 x 4 clips  41.1 s elapsed  ETA 0.0 s\u{1B}[K\n")
    }

    @Test("isatty: a pseudo-terminal is a terminal, a pipe is not")
    func terminalDetection() throws {
        // The pseudo-terminal multiplexer hands out a new terminal's master side.
        let master = open("/dev/ptmx", O_RDWR | O_NOCTTY)
        try #require(master >= 0)
        defer { close(master) }
        #expect(ProgressRenderer.isTerminal(fileDescriptor: master))
        #expect(ProgressRenderer.forOutput(fileDescriptor: master) == ProgressRenderer(style: .bar(width: 20)))
        var fds: [Int32] = [0, 0]
        try #require(pipe(&fds) == 0)
        defer { close(fds[0]); close(fds[1]) }
        #expect(!ProgressRenderer.isTerminal(fileDescriptor: fds[1]))
        #expect(ProgressRenderer.forOutput(fileDescriptor: fds[1]) == ProgressRenderer(style: .plain))
    }
}
