package dev.lora4j.train;

import dev.lora4j.eval.Evaluator;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/**
 * What a training loop tells, and asks, the program around it. {@link Trainer#fit} calls the step,
 * evaluation and checkpoint methods; {@link TrainingRun} (training from files into a run directory)
 * also calls {@link #onFinish} and {@link #onClose}. A library call does nothing to the JVM it runs in:
 * the command line installs a listener that stops on SIGINT and draws the loss curve.
 */
public interface TrainListener {
    TrainListener NONE = new TrainListener() {};

    /** The loss at one step (training) or one evaluation. */
    record Point(long step, double loss) {}

    /**
     * One optimizer step done.
     *
     * @param step         steps done so far (1-based)
     * @param totalSteps   the run's length
     * @param loss         mean loss over the step's target tokens
     * @param lr           the learning rate this step used
     * @param gradNorm     the global gradient norm before clipping
     * @param tokensPerSecond tokens seen per second since the run (or resume) started
     * @param elapsedSeconds  since the run (or resume) started
     * @param etaSeconds   estimated seconds left (NaN until a step after the first, which carries the JIT's warm-up)
     */
    record Step(long step, long totalSteps, double loss, double lr, double gradNorm, double tokensPerSecond, double elapsedSeconds,
                double etaSeconds) {}

    /** Polled before each step: true stops the run (after {@link #onCheckpoint}, so that it can be resumed). */
    default boolean stopRequested() {
        return false;
    }

    default void onStep(Step step) throws IOException {}

    /** An evaluation on the held-out data, after step {@code step}. */
    default void onEval(long step, Evaluator.Result result) throws IOException {}

    /**
     * Where the run stands, to be saved if it is to be resumed: every {@link TrainConfig#saveEvery()} steps,
     * at the end when saveEvery is set, and when a stop was requested. The trainable's weights are as
     * of this state while the call lasts.
     */
    default void onCheckpoint(TrainState state) throws IOException {}

    /** (TrainingRun) The run has ended, finished or stopped, with its loss curves, while its output directory is still locked. */
    default void onFinish(Path out, List<Point> train, List<Point> eval) throws IOException {}

    /** (TrainingRun) Last, however the run ended (also after a failure). */
    default void onClose() {}

    /** Both listeners, this one first; stop is requested when either requests it. */
    default TrainListener andThen(TrainListener next) {
        TrainListener first = this;
        return new TrainListener() {
            public boolean stopRequested() { return first.stopRequested() || next.stopRequested(); }

            public void onStep(Step s) throws IOException {
                first.onStep(s);
                next.onStep(s);
            }

            public void onEval(long step, Evaluator.Result r) throws IOException {
                first.onEval(step, r);
                next.onEval(step, r);
            }

            public void onCheckpoint(TrainState s) throws IOException {
                first.onCheckpoint(s);
                next.onCheckpoint(s);
            }

            public void onFinish(Path out, List<Point> train, List<Point> eval) throws IOException {
                first.onFinish(out, train, eval);
                next.onFinish(out, train, eval);
            }

            public void onClose() {
                try {
                    first.onClose();
                } finally {
                    next.onClose();
                }
            }
        };
    }
}
