package dev.lora4j.spark;

import java.io.Serializable;

/**
 * What the tasks of one step send back, combined up the tree: the adapter gradients, the loss sum and
 * the target tokens counted, and the longest time a task computed (to tell Spark's overhead from the
 * work).
 *
 * <p>A task sends its gradient as floats (4 bytes a weight); combining two sums promotes them to
 * double. The double sum of a few float values is exact, hence the same in whatever order Spark
 * combines them and when a task is retried, unless the values span more than about 2^28 in magnitude,
 * where the smaller one is below float precision anyway.
 */
final class GradientSum implements Serializable {
    private float[] partial;  // one task's gradient, as it travels
    private double[] sum;     // two or more combined
    double loss;
    long targets, tokens;
    long maxTaskNanos;
    int tasks = 1;

    /** A task that had none of the step's examples. */
    static GradientSum none() {
        return new GradientSum();
    }

    static GradientSum of(float[] grads, double loss, long targets, long tokens, long nanos) {
        GradientSum s = new GradientSum();
        s.partial = grads;
        s.loss = loss;
        s.targets = targets;
        s.tokens = tokens;
        s.maxTaskNanos = nanos;
        return s;
    }

    boolean empty() {
        return partial == null && sum == null;
    }

    /** The gradient of weight i. */
    double grad(int i) {
        return sum != null ? sum[i] : partial[i];
    }

    /** this + other (either may be changed and returned: Spark hands each combine its own copies). */
    GradientSum add(GradientSum o) {
        if (o.empty() || empty()) {
            GradientSum keep = empty() ? o : this, gone = keep == this ? o : this;
            keep.tasks += gone.tasks;
            keep.maxTaskNanos = Math.max(keep.maxTaskNanos, gone.maxTaskNanos);
            return keep;
        }
        if (sum == null) {
            sum = new double[partial.length];
            for (int i = 0; i < sum.length; i++) sum[i] = partial[i];
            partial = null;
        }
        for (int i = 0; i < sum.length; i++) sum[i] += o.grad(i);
        loss += o.loss;
        targets += o.targets;
        tokens += o.tokens;
        maxTaskNanos = Math.max(maxTaskNanos, o.maxTaskNanos);
        tasks += o.tasks;
        return this;
    }
}
