package dev.lora4j.train;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/**
 * What a training run tells, and asks, the program around it. A library call does nothing to the JVM
 * it runs in: a command line installs a listener that stops on SIGINT and draws the loss curve.
 */
public interface TrainListener {
    TrainListener NONE = new TrainListener() {};

    /** The loss at one step (training) or one evaluation. */
    record Point(long step, double loss) {}

    /** Polled before each step: true stops the run after saving a checkpoint it can be resumed from. */
    default boolean stopRequested() {
        return false;
    }

    /** When the run has ended (finished or stopped), with its loss curves, while its output directory is still locked. */
    default void onFinish(Path out, List<Point> train, List<Point> eval) throws IOException {}

    /** Last, however the run ended (also after a failure). */
    default void onClose() {}
}
