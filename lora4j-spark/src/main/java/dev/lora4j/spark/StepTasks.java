package dev.lora4j.spark;

import dev.lora4j.data.Batch;
import dev.lora4j.eval.Evaluator;
import dev.lora4j.lora.LoraModel;
import org.apache.spark.TaskContext;
import org.apache.spark.broadcast.Broadcast;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;

/**
 * What runs on the executors of a distributed training run ({@link SparkTraining} is the driver's
 * side): one task's forward and backward over its share of a step, and the loss over one block of
 * evaluation examples, each with a {@link Workers} adapter over the executor's base.
 */
final class StepTasks {
    private StepTasks() {}

    /** Everything a task needs, shipped with it (small: names and numbers). */
    record Job(String modelPath, String shipped, dev.lora4j.lora.LoraConfig lora, int rows, int t, long seed, int threads,
               boolean recompute /* gradient checkpointing */, SparkTraining.FailTask failTask) implements Serializable {
        String modelDir() {
            return shipped != null ? ShippedModel.find(shipped) : modelPath;
        }
    }

    /** One task of a step: forward and backward over its partition's examples of the step, micro-batch by micro-batch. */
    static GradientSum step(Job j, long step, int partition, Iterator<ExampleBlock> blocks, int[][] plan, Broadcast<float[]> w, long version,
                            float scale) {
        GradientSum empty = GradientSum.none();
        if (!blocks.hasNext()) return empty;
        ExampleBlock block = blocks.next();
        boolean any = false;
        for (int[] sub : plan) any |= sub.length > 0;
        if (!any) return empty;
        TaskContext ctx = TaskContext.get();
        if (j.failTask() != null && j.failTask().step() == step && j.failTask().partition() == partition && ctx != null && ctx.attemptNumber() == 0)
            throw new IllegalStateException("lora4j: injected failure of step " + (step + 1) + ", partition " + partition + ", attempt 0");
        long t0 = System.nanoTime();
        Workers.Worker wk = Workers.acquire(j.modelDir(), j.lora(), j.t(), j.threads());
        try {
            wk.load(version, w.value());
            LoraModel lm = wk.lora;
            lm.zeroGrad();
            double loss = 0;
            long targets = 0, tokens = 0;
            for (int a = 0; a < plan.length; a++) {
                if (plan[a].length == 0) continue;
                List<int[]> ids = new ArrayList<>(plan[a].length), labels = new ArrayList<>(plan[a].length);
                for (int i : plan[a]) {
                    ids.add(block.ids()[i]);
                    labels.add(block.labels()[i]);
                }
                Batch b = Batch.of(ids, labels, 0, ids.size(), j.t());
                if (b.targetCount() == 0) continue;
                lm.setTraining(true, j.seed() * 1_000_003L + step * 31 + a + partition * 0x632BE59BD9B4E019L);
                loss += lm.model().loss(b.tokens(), b.targets(), b.b(), b.t(), wk.activations(b.b(), j.recompute()), scale).sum();
                targets += b.targetCount();
                tokens += b.tokenCount();
            }
            lm.setTraining(false, 0);
            return GradientSum.of(wk.grads(), loss, targets, tokens, System.nanoTime() - t0);
        } finally {
            Workers.release(wk);
        }
    }

    /** The loss sum, target count and example count of one evaluation block. */
    static double[] evaluate(Job j, ExampleBlock block, Broadcast<float[]> w, long version, int seqLen) {
        if (block.size() == 0) return new double[3];
        Workers.Worker wk = Workers.acquire(j.modelDir(), j.lora(), j.t(), j.threads());
        try {
            wk.load(version, w.value());
            wk.lora.setTraining(false, 0);
            Evaluator.Result r = Evaluator.evaluate(wk.lora.model(), Arrays.asList(block.ids()), Arrays.asList(block.labels()), seqLen, j.rows());
            return new double[] {r.tokens() == 0 ? 0 : r.loss() * r.tokens(), r.tokens(), block.size()};
        } finally {
            Workers.release(wk);
        }
    }
}
