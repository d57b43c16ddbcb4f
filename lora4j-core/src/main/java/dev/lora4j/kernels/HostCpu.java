package dev.lora4j.kernels;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

/**
 * The processor's maker, for the few memory-access choices whose best setting differs between makers
 * (measured, docs/performance-notes.md). Read once from Linux's /proc/cpuinfo; elsewhere unknown.
 */
final class HostCpu {
    enum Vendor { INTEL, AMD, OTHER }

    static final Vendor VENDOR = read(Path.of("/proc/cpuinfo"));

    private HostCpu() {}

    static Vendor read(Path cpuinfo) {
        try (Stream<String> lines = Files.lines(cpuinfo)) {
            return lines.filter(l -> l.startsWith("vendor_id")).findFirst().map(HostCpu::vendor).orElse(Vendor.OTHER);
        } catch (IOException | RuntimeException e) {
            return Vendor.OTHER;
        }
    }

    private static Vendor vendor(String line) {
        String id = line.substring(line.indexOf(':') + 1).trim();
        return switch (id) {
            case "GenuineIntel" -> Vendor.INTEL;
            case "AuthenticAMD" -> Vendor.AMD;
            default -> Vendor.OTHER;
        };
    }
}
