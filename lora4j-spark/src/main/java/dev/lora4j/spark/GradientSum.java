package dev.lora4j.spark;

import java.io.Serializable;

/**
 * What the tasks of one step send back, summed up the tree: the adapter gradients, the loss sum and
 * the target tokens counted, and the longest time a task computed (to tell Spark's overhead from the
 * work).
 *
 * <p>Gradients are summed in double. A partition's gradient arrives as floats, so the double sum of a
 * few of them is exact (hence the same in whatever order Spark combines them, and the same when a task
 * is retried) unless one partition's value is more than about 2^29 times another's, where the smaller
 * one is below float's precision anyway.
 */
final class GradientSum implements Serializable {
    double[] grads; // null until a partition with examples adds to it
    double loss;
    long targets, tokens;
    long maxTaskNanos;
    int tasks;

    static GradientSum of(float[] grads, double loss, long targets, long tokens, long nanos) {
        GradientSum s = new GradientSum();
        s.grads = new double[grads.length];
        for (int i = 0; i < grads.length; i++) s.grads[i] = grads[i];
        s.loss = loss;
        s.targets = targets;
        s.tokens = tokens;
        s.maxTaskNanos = nanos;
        s.tasks = 1;
        return s;
    }

    /** this + other, into whichever holds an array (both may be reused: Spark hands over its own copies). */
    GradientSum add(GradientSum o) {
        if (o.grads == null) {
            tasks += o.tasks;
            maxTaskNanos = Math.max(maxTaskNanos, o.maxTaskNanos);
            return this;
        }
        if (grads == null) return o.add(this);
        for (int i = 0; i < grads.length; i++) grads[i] += o.grads[i];
        loss += o.loss;
        targets += o.targets;
        tokens += o.tokens;
        maxTaskNanos = Math.max(maxTaskNanos, o.maxTaskNanos);
        tasks += o.tasks;
        return this;
    }
}
