package dev.lora4j.lab;

import dev.lora4j.train.TrainListener;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * What a training run started from the command line adds to the library's run: SIGINT (Ctrl-C) asks the
 * run to stop, and the JVM waits for its checkpoint to be written before it exits; at the end the loss
 * curve is drawn into the output directory as loss.png.
 */
public final class CommandLineTraining implements TrainListener {
    private final CountDownLatch closed = new CountDownLatch(1);
    private final Thread hook;
    private volatile boolean stopRequested;

    private CommandLineTraining() {
        hook = new Thread(() -> {
            stopRequested = true;
            try {
                closed.await(120, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "lora4j-sigint");
    }

    /** Installs the SIGINT hook now; it is removed when the run closes. */
    public static CommandLineTraining install() {
        CommandLineTraining t = new CommandLineTraining();
        Runtime.getRuntime().addShutdownHook(t.hook);
        return t;
    }

    @Override
    public boolean stopRequested() {
        return stopRequested;
    }

    @Override
    public void onFinish(Path out, List<Point> train, List<Point> eval) {
        // the chart is a convenience: whatever stops it (a full disk, Java2D refusing to start while the JVM
        // shuts down after Ctrl-C) is a note, never a failed run; the adapter and metrics.jsonl are written already
        try {
            LossChart.write(out.resolve("loss.png"), "lora4j training loss", train, eval);
        } catch (IOException | RuntimeException | LinkageError e) {
            System.err.println("lora4j: note: loss.png not drawn (" + (e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage())
                    + "); the loss curve is in metrics.jsonl");
        }
    }

    @Override
    public void onClose() {
        closed.countDown();
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException shuttingDown) {
            // the JVM is exiting (SIGINT): the hook is already running and waits for closed
        }
    }
}
