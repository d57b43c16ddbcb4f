package dev.lora4j.train;

/**
 * How the learning rate moves over a run: linear warm-up from 0 over warmupSteps, then the shape
 * (Hugging Face's constant, linear or cosine schedules).
 *
 * @param shape       after warm-up: constant, linear decay to 0 (default) or cosine decay to 0
 * @param warmupSteps steps of linear warm-up (default 0)
 */
public record ScheduleConfig(Schedule shape, long warmupSteps) {
    public ScheduleConfig {
        if (shape == null) throw new dev.lora4j.Lora4jException("--schedule must be given (constant, linear or cosine)");
        Check.atLeast("--warmup-steps", warmupSteps, 0, TrainConfig.MAX_STEPS);
    }

    /** Linear decay, no warm-up. */
    public static ScheduleConfig defaults() {
        return new ScheduleConfig(Schedule.LINEAR, 0);
    }

    /** The factor of the peak learning rate used by optimizer step {@code step} (0-based) of totalSteps. */
    public double factor(long step, long totalSteps) {
        return shape.factor(step, warmupSteps, totalSteps);
    }
}
