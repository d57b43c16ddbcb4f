package dev.lora4j.cli;

import dev.lora4j.Lora4jException;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.lora4j.data.TokenDataset;
import dev.lora4j.eval.Evaluator;
import dev.lora4j.lora.AdapterSet;
import java.util.List;
import dev.lora4j.model.Transformer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;

@Command(name = "eval", mixinStandardHelpOptions = true,
        description = {"Mean causal-LM loss and perplexity of a model over data (or, with --task seq-cls, a classifier's accuracy).",
                "JSONL lines with \"input_ids\" (+ \"labels\"), \"text\", or \"prompt\" + \"completion\" (loss on the completion),",
                "or a .txt file (a line per example); text is encoded with the model's tokenizer.json."})
final class EvalCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, paramLabel = "DIR", description = "Hugging Face checkpoint directory.")
    Path model;

    @Option(names = "--task", defaultValue = "causal-lm", paramLabel = "causal-lm|seq-cls", description = {
            "seq-cls: accuracy, macro-F1 and loss of a sequence classifier on {\"text\", \"label\"} lines: --model the encoder with",
            "one --adapter (from train --task seq-cls), or a classifier checkpoint (train --task seq-cls --full, or transformers'",
            "BertForSequenceClassification). --seq-len defaults to 128 there (default task: causal-lm)."})
    String task;

    @Option(names = "--data", required = true, paramLabel = "FILE", description = "JSONL (input_ids, text, prompt + completion, or messages per line) or .txt.")
    Path data;

    @Option(names = "--adapter", paramLabel = "[NAME=]DIR[:WEIGHT]", description = {
            "A PEFT LoRA adapter, applied unmerged (repeatable). Several are applied together as their weighted sum;",
            "when data lines carry {\"adapter\": \"NAME\"}, each example runs with its own adapter instead, in mixed batches",
            "(NAME defaults to the directory's name)."})
    List<String> adapters = new java.util.ArrayList<>();

    @Option(names = "--seq-len", defaultValue = "1024", paramLabel = "T", description = "Truncate examples to T tokens (default: ${DEFAULT-VALUE}).")
    int seqLen;

    @Option(names = "--batch-size", defaultValue = "8", paramLabel = "B", description = "Examples per forward pass (default: ${DEFAULT-VALUE}).")
    int batchSize;

    @picocli.CommandLine.Mixin
    ThreadsOption threads = new ThreadsOption();
    @picocli.CommandLine.Mixin
    QuantizeOption quantize = new QuantizeOption();

    @Option(names = "--chat-template", paramLabel = "FILE", description = "Jinja chat template for \"messages\" data, instead of tokenizer_config.json's.")
    Path chatTemplate;

    @Option(names = "--skip-bad-lines", description = "Count and skip data lines that are not valid examples, instead of stopping.")
    boolean skipBadLines;

    @Option(names = "--truncation", paramLabel = "right|left|drop", defaultValue = "right",
            description = "An example longer than --seq-len keeps its first tokens (right, the default), its last (left), or is left out (drop).")
    String truncation;

    @Option(names = "--no-eos", description = "Do not end \"text\" and \"completion\" examples with the tokenizer's EOS token (appended by default, as in training).")
    boolean noEos;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Option(names = "--json", description = "End stdout with one JSON object: loss, perplexity, tokens, examples, seconds.")
    boolean json;

    @Override
    public Integer call() throws Exception {
        Options.positive("--seq-len", seqLen);
        if (!task.equals("causal-lm") && !task.equals("seq-cls")) throw new Lora4jException("--task must be causal-lm or seq-cls, got '" + task + "'");
        if (task.equals("seq-cls")) {
            if (adapters.size() > 1) throw new Lora4jException("--task seq-cls takes at most one --adapter, got " + adapters.size());
            threads.apply();
            boolean seqLenGiven = spec.commandLine().getParseResult().hasMatchedOption("--seq-len");
            SequenceClassification.eval(model, adapters.isEmpty() ? null : Path.of(adapters.get(0)), data, seqLenGiven ? seqLen : 128, json);
            return 0;
        }
        Options.positive("--batch-size", batchSize);
        threads.apply();
        try (Transformer m = dev.lora4j.model.Quantization.load(model, quantize.type(), r -> System.err.println(r.describe()))) {
            TokenDataset read = TokenDataset.read(data, m.config().vocabSize(), skipBadLines, dev.lora4j.data.TextEncoder.ofModel(model, chatTemplate).withAppendEos(!noEos));
            if (read.skipped() > 0) System.err.println(data + ": " + read.skipped() + " bad lines skipped");
            int maxPos = m.config().maxPositions();
            int t = Math.min(seqLen, maxPos);
            TokenDataset.Truncation mode = TokenDataset.Truncation.parse(truncation);
            System.err.println("data: " + read.summary(t, mode));
            TokenDataset ds = read.truncated(t, mode);
            Evaluator.Result r;
            if (ds.routed()) {
                AdapterSet.Mixed mixed = AdapterSpecs.named(m, adapters).mixed();
                r = Evaluator.evaluate(mixed.model(), ds.examples(), ds.labels(), t, batchSize, (first, batch) -> {
                    String[] names = new String[batchSize];
                    for (int i = 0; i < batchSize && first + i < ds.examples().size(); i++) names[i] = ds.adapters().get(first + i);
                    return mixed.call(names, batch);
                });
            } else {
                r = Evaluator.evaluate(AdapterSpecs.weightedSum(m, adapters), ds.examples(), ds.labels(), t, batchSize);
            }
            if (r.tokens() == 0)
                throw new Lora4jException(data + ": no token to score (every example is one token long within --seq-len " + t
                        + ", or all its labels are -100)");
            if (!Double.isFinite(r.loss())) {
                // say why: a weight of the model that is not a number, or activations that overflowed
                String bad = m.source().firstNonFinite();
                throw new Lora4jException("the loss is " + r.loss() + ": " + (bad != null ? model + " holds a non-finite weight, " + bad
                        : "every weight of " + model + " is finite; the activations overflowed (an adapter with extreme weights?)"));
            }
            System.out.printf(java.util.Locale.ROOT, "loss %.6f  perplexity %.4f  tokens %d  examples %d  (%.2f s)%n",
                    r.loss(), r.perplexity(), r.tokens(), r.examples(), r.seconds());
            if (json) {
                Map<String, Object> o = new LinkedHashMap<>();
                o.put("loss", r.loss());
                o.put("perplexity", r.perplexity());
                o.put("tokens", r.tokens());
                o.put("examples", r.examples());
                o.put("seconds", r.seconds());
                System.out.println(new ObjectMapper().writeValueAsString(o));
            }
        }
        return 0;
    }
}
