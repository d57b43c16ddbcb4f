package dev.lora4j.train;

import java.util.List;

/**
 * Where a run stands between two steps, with everything needed to continue it exactly: the number of
 * steps done, the optimizer's state arrays (in parameter order) and its own step count. The trainable's
 * weights are the rest of it.
 */
public record TrainState(long step, List<float[]> optimizerState, long optimizerSteps) {
    /** The start of a run. */
    public static final TrainState START = new TrainState(0, null, 0);
}
