package dev.lora4j.spark;

import dev.lora4j.Lora4jException;

/** Spark jobs as lora4j's commands run them: a failure becomes one clear line, never a stack trace. */
final class Jobs {
    private Jobs() {}

    /**
     * Runs a Spark job; a failed one (after Spark's retries) becomes one clear line: lora4j's own message
     * when a task failed on bad input, else Spark's first line.
     */
    static <T> T onCluster(String what, java.util.function.Supplier<T> job) {
        try {
            return job.get();
        } catch (Exception e) { // SparkException is checked, yet thrown through Scala's signatures
            if (e instanceof Lora4jException l) throw l;
            String m = String.valueOf(e.getMessage());
            int at = m.indexOf(Lora4jException.class.getName() + ": ");
            if (at >= 0) {
                String own = m.substring(at + Lora4jException.class.getName().length() + 2);
                throw new Lora4jException(own.lines().findFirst().orElse(own), e);
            }
            throw new Lora4jException(what + " failed on the cluster: " + m.lines().findFirst().orElse(m), e);
        }
    }
}
