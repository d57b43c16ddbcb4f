package dev.lora4j.kernels;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

class HostCpuTest {
    @TempDir
    Path dir;

    private HostCpu.Vendor read(String text) throws Exception {
        Path f = dir.resolve("cpuinfo");
        Files.writeString(f, text);
        return HostCpu.read(f);
    }

    @Test
    void readsTheFirstVendorLine() throws Exception {
        assertThat(read("processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\n")).isEqualTo(HostCpu.Vendor.AMD);
        assertThat(read("processor\t: 0\nvendor_id\t: GenuineIntel\n\nprocessor\t: 1\nvendor_id\t: AuthenticAMD\n")).isEqualTo(HostCpu.Vendor.INTEL);
        assertThat(read("processor\t: 0\nvendor_id\t: HygonGenuine\n")).isEqualTo(HostCpu.Vendor.OTHER);
    }

    @Test
    void unknownWithoutAVendorLineOrFile() throws Exception {
        assertThat(read("processor\t: 0\nCPU implementer\t: 0x41\n")).isEqualTo(HostCpu.Vendor.OTHER);
        assertThat(read("vendor_id")).isEqualTo(HostCpu.Vendor.OTHER);
        assertThat(HostCpu.read(dir.resolve("missing"))).isEqualTo(HostCpu.Vendor.OTHER);
    }
}
