package dev.lora4j.train;

/**
 * Learning-rate schedules as Hugging Face defines them: linear warm-up from 0 over warmupSteps, then
 * constant, linear decay to 0, or cosine decay to 0 at totalSteps. {@code lr(step)} is the rate used
 * by optimizer step number {@code step} (0-based).
 */
public enum Schedule {
    CONSTANT, LINEAR, COSINE;

    public double factor(long step, long warmupSteps, long totalSteps) {
        if (step < warmupSteps) return (double) step / Math.max(1, warmupSteps);
        return switch (this) {
            case CONSTANT -> 1.0;
            case LINEAR -> Math.max(0.0, (double) (totalSteps - step) / Math.max(1, totalSteps - warmupSteps));
            case COSINE -> {
                double progress = (double) (step - warmupSteps) / Math.max(1, totalSteps - warmupSteps);
                yield Math.max(0.0, 0.5 * (1.0 + Math.cos(Math.PI * progress)));
            }
        };
    }
}
