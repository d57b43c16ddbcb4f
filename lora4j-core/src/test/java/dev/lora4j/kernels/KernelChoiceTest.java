package dev.lora4j.kernels;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** A JVM without the Vector API module is told, once, that it runs the scalar kernels and how to get SIMD. */
class KernelChoiceTest {
    /** Run in a child JVM: touches the kernels and prints the choice. */
    public static void main(String[] args) {
        System.out.println("choice: " + Kernels.describe());
        Kernels.ops();
    }

    static String run(String... jvmOptions) throws IOException, InterruptedException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd = new java.util.ArrayList<>(List.of(java));
        cmd.addAll(List.of(jvmOptions));
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), KernelChoiceTest.class.getName()));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        return new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    }

    @Test
    void withoutTheModuleTheScalarChoiceIsSaidOnceWithTheFlag() throws Exception {
        String out = run();
        assertThat(out).contains("choice: scalar");
        assertThat(out.split("--add-modules jdk.incubator.vector", -1).length - 1).as(out).isEqualTo(2); // the warning, and describe()
        assertThat(out).contains("WARNING", "scalar kernels run");
        String simd = run("--add-modules", "jdk.incubator.vector");
        assertThat(simd).contains("choice: SIMD").doesNotContain("scalar kernels");
    }
}
