package dev.lora4j.lab;

import dev.lora4j.train.TrainListener;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** Ctrl-C while the loss chart is being drawn: the JVM is shutting down, the chart is drawn or noted, never a stack trace. */
class ChartAtShutdownTest {
    @TempDir
    Path tmp;

    /** The child: SIGINT to itself, then the run's end (the chart) while the shutdown hook waits for it. */
    public static void main(String[] args) throws Exception {
        CommandLineTraining listener = CommandLineTraining.install();
        new ProcessBuilder("kill", "-INT", Long.toString(ProcessHandle.current().pid())).start().waitFor();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (!listener.stopRequested() && System.nanoTime() < deadline) Thread.sleep(10);
        System.out.println("shutting down: " + listener.stopRequested());
        List<TrainListener.Point> curve = new ArrayList<>();
        for (int i = 1; i <= 50; i++) curve.add(new TrainListener.Point(i, 5.0 / i));
        listener.onFinish(Path.of(args[0]), curve, List.of());
        System.out.println("finished");
        listener.onClose();
    }

    @Test
    void sigintWhileTheChartIsDrawnEndsCleanly() throws Exception {
        String java = ProcessHandle.current().info().command().orElse("java");
        Path log = tmp.resolve("log.txt");
        Process p = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"), ChartAtShutdownTest.class.getName(), tmp.toString())
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).as("exited").isTrue();
        String out = Files.readString(log);
        assertThat(out).contains("shutting down: true", "finished").doesNotContain("\tat ", "Exception");
        assertThat(Files.exists(tmp.resolve("loss.png")) || out.contains("loss.png not drawn")).as(out).isTrue();
    }
}
