package dev.lora4j.train;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** What this process holds in memory, as the operating system counts it. */
public final class ProcessMemory {
    private ProcessMemory() {}

    /** The peak resident set so far (VmHWM), in bytes, on Linux; -1 elsewhere. */
    public static long peakRssBytes() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status")))
                if (line.startsWith("VmHWM:")) return Long.parseLong(line.replaceAll("\\D", "")) * 1024;
        } catch (IOException | NumberFormatException ignored) {
            // not Linux
        }
        return -1;
    }
}
