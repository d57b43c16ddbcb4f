package dev.lora4j.train;

import dev.lora4j.TestPaths;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** SIGINT during `lora4j train` (a real process) saves a resumable checkpoint and exits. */
class InterruptTest {
    @TempDir
    Path tmp;

    @Test
    void sigintSavesACheckpoint() throws IOException, InterruptedException {
        Path out = tmp.resolve("run");
        String java = ProcessHandle.current().info().command().orElse("java");
        Process p = new ProcessBuilder(List.of(java, "--add-modules", "jdk.incubator.vector", "-cp", System.getProperty("java.class.path"),
                "dev.lora4j.cli.Main", "train", "--model", TestPaths.stories260k().toString(), "--data", TestPaths.repo("examples/stories260k-ids.jsonl").toString(),
                "--out", out.toString(), "--steps", "1000000", "--batch-size", "1", "--seq-len", "16", "--log-every", "1000"))
                .redirectErrorStream(true).redirectOutput(tmp.resolve("log.txt").toFile()).start();
        try {
            Path metrics = out.resolve(TrainingRun.METRICS);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (!(Files.exists(metrics) && Files.size(metrics) > 0) && System.nanoTime() < deadline) Thread.sleep(50);
            assertThat(metrics).as("training started").exists();
            new ProcessBuilder("kill", "-INT", Long.toString(p.pid())).start().waitFor();
            assertThat(p.waitFor(60, TimeUnit.SECONDS)).as("exited after SIGINT").isTrue();
        } finally {
            p.destroyForcibly();
        }
        String log = Files.readString(tmp.resolve("log.txt"));
        assertThat(log).contains("interrupted: checkpoint saved");
        try (var s = Files.list(out)) {
            Path ckpt = s.filter(d -> d.getFileName().toString().startsWith("checkpoint-")).findFirst().orElseThrow();
            assertThat(ckpt.resolve(TrainingRun.STATE)).exists();
            assertThat(ckpt.resolve("adapter_model.safetensors")).exists();
            assertThat(ckpt.resolve(TrainingRun.OPTIMIZER)).exists();
        }
    }
}
