package dev.lora4j.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.lora4j.Lora4jException;
import dev.lora4j.lora.LoraConfig;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** TrainOptions to and from JSON, for the trainer_state.json of every checkpoint. */
final class OptionsJson {
    private static final ObjectMapper JSON = new ObjectMapper();

    private OptionsJson() {}

    static ObjectNode write(TrainOptions o) {
        ObjectNode j = JSON.createObjectNode();
        j.put("model", o.model().toString());
        j.put("data", o.data().toString());
        j.put("out", o.out().toString());
        j.put("r", o.r());
        j.put("alpha", o.alpha());
        j.put("dropout", o.dropout());
        switch (o.targets()) {
            case null -> j.putNull("targets");
            case LoraConfig.TargetList l -> {
                var a = j.putObject("targets").putArray("list");
                l.names().forEach(a::add);
            }
            case LoraConfig.TargetRegex r -> j.putObject("targets").put("regex", r.regex());
            case LoraConfig.AllLinear a -> j.put("targets", "all-linear");
        }
        if (o.layers() == null) j.putNull("layers");
        else o.layers().forEach(j.putArray("layers")::add);
        var rp = j.putObject("rank_pattern");
        o.rankPattern().forEach(rp::put);
        var ap = j.putObject("alpha_pattern");
        o.alphaPattern().forEach(ap::put);
        j.put("init", o.init().name());
        j.put("rslora", o.rslora());
        j.put("optimizer", o.optimizer().name());
        j.put("momentum", o.momentum());
        j.put("lr", o.lr());
        j.put("weight_decay", o.weightDecay());
        j.put("beta1", o.beta1());
        j.put("beta2", o.beta2());
        j.put("eps", o.eps());
        j.put("schedule", o.schedule().name());
        j.put("warmup_steps", o.warmupSteps());
        j.put("steps", o.steps());
        j.put("epochs", o.epochs());
        j.put("batch_size", o.batchSize());
        j.put("grad_accum", o.gradAccum());
        j.put("seq_len", o.seqLen());
        j.put("max_grad_norm", o.maxGradNorm());
        j.put("seed", o.seed());
        j.put("shuffle", o.shuffle());
        j.put("eval_data", o.evalData() == null ? null : o.evalData().toString());
        j.put("eval_every", o.evalEvery());
        j.put("save_every", o.saveEvery());
        j.put("init_adapter", o.initAdapter() == null ? null : o.initAdapter().toString());
        j.put("full", o.full());
        j.put("log_every", o.logEvery());
        j.put("pack", o.pack());
        j.put("eval_split", o.evalSplit());
        j.put("skip_bad_lines", o.skipBadLines());
        j.put("chat_template", o.chatTemplate() == null ? null : o.chatTemplate().toString());
        return j;
    }

    static TrainOptions read(JsonNode j, Path file) {
        if (j == null || !j.isObject()) throw new Lora4jException(file + ": missing \"options\" object");
        try {
            JsonNode t = j.get("targets");
            LoraConfig.Targets targets = t == null || t.isNull() ? null
                    : t.isTextual() ? new LoraConfig.AllLinear()
                    : t.has("regex") ? new LoraConfig.TargetRegex(t.get("regex").asText())
                    : new LoraConfig.TargetList(strings(t.get("list")));
            List<Integer> layers = null;
            if (j.hasNonNull("layers")) {
                layers = new ArrayList<>();
                for (JsonNode n : j.get("layers")) layers.add(n.asInt());
            }
            return TrainOptions.builder(Path.of(text(j, "model")), Path.of(text(j, "data")), Path.of(text(j, "out")))
                    .r(j.get("r").asInt()).alpha(j.get("alpha").asDouble()).dropout(j.get("dropout").asDouble()).targets(targets).layers(layers)
                    .rankPattern(intMap(j.get("rank_pattern"))).alphaPattern(doubleMap(j.get("alpha_pattern")))
                    .init(LoraConfig.Init.valueOf(text(j, "init"))).rslora(j.get("rslora").asBoolean())
                    .optimizer(TrainOptions.OptimizerKind.valueOf(text(j, "optimizer"))).momentum(j.get("momentum").asDouble())
                    .lr(j.get("lr").asDouble()).weightDecay(j.get("weight_decay").asDouble())
                    .beta1(j.get("beta1").asDouble()).beta2(j.get("beta2").asDouble()).eps(j.get("eps").asDouble())
                    .schedule(Schedule.valueOf(text(j, "schedule"))).warmupSteps(j.get("warmup_steps").asLong())
                    .steps(j.get("steps").asLong()).epochs(j.get("epochs").asInt()).batchSize(j.get("batch_size").asInt())
                    .gradAccum(j.get("grad_accum").asInt()).seqLen(j.get("seq_len").asInt()).maxGradNorm(j.get("max_grad_norm").asDouble())
                    .seed(j.get("seed").asLong()).shuffle(j.get("shuffle").asBoolean())
                    .evalData(j.hasNonNull("eval_data") ? Path.of(j.get("eval_data").asText()) : null).evalEvery(j.get("eval_every").asLong())
                    .saveEvery(j.get("save_every").asLong()).initAdapter(j.hasNonNull("init_adapter") ? Path.of(j.get("init_adapter").asText()) : null)
                    .full(j.get("full").asBoolean()).logEvery(j.get("log_every").asLong()).pack(j.path("pack").asBoolean(false))
                    .evalSplit(j.path("eval_split").asDouble(0)).skipBadLines(j.path("skip_bad_lines").asBoolean(false))
                    .chatTemplate(j.hasNonNull("chat_template") ? Path.of(j.get("chat_template").asText()) : null).build();
        } catch (NullPointerException | IllegalArgumentException e) {
            throw new Lora4jException(file + ": options are incomplete or malformed (" + e.getMessage() + ")");
        }
    }

    private static java.util.Map<String, Integer> intMap(JsonNode n) {
        java.util.Map<String, Integer> m = new java.util.LinkedHashMap<>();
        if (n != null) n.properties().forEach(e -> m.put(e.getKey(), e.getValue().asInt()));
        return m;
    }

    private static java.util.Map<String, Double> doubleMap(JsonNode n) {
        java.util.Map<String, Double> m = new java.util.LinkedHashMap<>();
        if (n != null) n.properties().forEach(e -> m.put(e.getKey(), e.getValue().asDouble()));
        return m;
    }

    private static String text(JsonNode j, String f) {
        return j.get(f).asText();
    }

    private static List<String> strings(JsonNode a) {
        List<String> out = new ArrayList<>();
        a.forEach(n -> out.add(n.asText()));
        return out;
    }
}
