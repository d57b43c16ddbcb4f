package dev.lora4j.lora;

import dev.lora4j.Lora4jException;
import dev.lora4j.model.TokenRows;
import dev.lora4j.model.Transformer;
import dev.lora4j.tensor.Tensor;
import dev.lora4j.train.Parameter;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What a LoRA adapter trains in the input embedding and the LM head ({@link LoraConfig.Embeddings}): fp32 copies of
 * either (PEFT's modules_to_save, saved as {@code <module>.weight}), and rows of either (trainable tokens, saved as
 * {@code <module>.token_adapter.trainable_tokens_delta}, which despite its name holds the rows' values). Module names
 * are those of the Hugging Face causal-LM model: "model.embed_tokens" (GPT-2: "transformer.wte") and "lm_head".
 */
public final class TrainedEmbeddings {
    static final String HEAD = "lm_head", ROWS = ".token_adapter.trainable_tokens_delta";

    private final Tensor embedCopy, headCopy;  // or null
    private final float[] embedGrad, headGrad; // with the copies
    private final TokenRows embedRows, headRows;

    private TrainedEmbeddings(Tensor embedCopy, Tensor headCopy, TokenRows embedRows, TokenRows headRows) {
        this.embedCopy = embedCopy;
        this.headCopy = headCopy;
        this.embedGrad = embedCopy == null ? null : new float[embedCopy.heapArray().length];
        this.headGrad = headCopy == null ? null : new float[headCopy.heapArray().length];
        this.embedRows = embedRows;
        this.headRows = headRows;
    }

    /** The input embedding's module name in the causal-LM model. */
    static String embedModule(Transformer base) {
        return base.config().modelType().equals("gpt2") ? "transformer.wte" : "model.embed_tokens";
    }

    /**
     * Which of the model's two modules a configured name means: "embed" (the input embedding by either family's name, which
     * PEFT's list form of trainable_token_indices also means) or "head"; else refused.
     */
    private static String which(Transformer base, String name, String field) {
        String embed = embedModule(base);
        if (List.of("embed_tokens", "wte", "model.embed_tokens", "transformer.wte").contains(name)) return "embed";
        if (name.equals(HEAD)) return "head";
        throw new Lora4jException(field + " '" + name + "' is not supported: LoRA here also trains the input embedding ('"
                + embed.substring(embed.lastIndexOf('.') + 1) + "') or the LM head ('lm_head')");
    }

    /** The values the configuration starts from: copies of the base's tensors, and its rows. */
    static TrainedEmbeddings fresh(Transformer base, LoraConfig.Embeddings spec) {
        return of(base, spec, (module, rows) -> null);
    }

    /** Saved values by PEFT key ({@code <module>.weight} or {@code <module>ROWS}), or null to start from the base. */
    interface Saved {
        float[] get(String key, int[] shape);
    }

    static TrainedEmbeddings of(Transformer base, LoraConfig.Embeddings spec, Saved saved) {
        boolean tied = base.head() == base.tokenEmbedding();
        int v = base.config().vocabSize(), dim = base.config().dim();
        Tensor embedCopy = null, headCopy = null;
        String embed = embedModule(base);
        for (String m : spec.modulesToSave()) {
            if (which(base, m, "modules_to_save").equals("embed")) embedCopy = copy(base.tokenEmbedding(), saved.get(embed + ".weight", new int[] {v, dim}));
            else headCopy = copy(base.head(), saved.get(HEAD + ".weight", new int[] {v, dim}));
        }
        TokenRows embedRows = null, headRows = null;
        for (var e : spec.tokenIndices().entrySet()) {
            int[] ids = e.getValue().stream().mapToInt(Integer::intValue).toArray();
            for (int id : ids)
                if (id >= v) throw new Lora4jException("trainable_token_indices '" + e.getKey() + "': token id " + id + " is outside the vocabulary [0, " + v + ")");
            boolean isEmbed = which(base, e.getKey(), "trainable_token_indices").equals("embed");
            if (isEmbed && embedCopy != null || !isEmbed && headCopy != null)
                throw new Lora4jException("trainable_token_indices '" + e.getKey() + "': that module is trained whole (modules_to_save)");
            if (!isEmbed && tied) throw new Lora4jException("trainable_token_indices 'lm_head': this model ties its head to the input embedding;"
                    + " give the ids for '" + embed.substring(embed.lastIndexOf('.') + 1) + "', whose rows the head shares");
            Tensor from = isEmbed ? base.tokenEmbedding() : base.head();
            float[] values = saved.get((isEmbed ? embed : HEAD) + ROWS, new int[] {ids.length, dim});
            if (values == null) {
                values = new float[ids.length * dim];
                for (int s = 0; s < ids.length; s++) from.mat().copyRow(ids[s], 0, values, s * dim, dim);
            }
            TokenRows rows = new TokenRows(ids, values, new float[values.length]);
            if (isEmbed) embedRows = rows;
            else headRows = rows;
        }
        if (tied && embedRows != null) {
            if (headCopy != null) throw new Lora4jException("trainable_token_indices on a tied embedding with 'lm_head' in modules_to_save: train the head whole"
                    + " or its rows through the embedding, not both");
            headRows = embedRows; // PEFT ties the head's rows to the embedding's
        }
        return new TrainedEmbeddings(embedCopy, headCopy, embedRows, headRows);
    }

    private static Tensor copy(Tensor t, float[] saved) {
        return Tensor.of(t.name(), saved != null ? saved : t.toArray().clone(), t.shape());
    }

    /** model (its blocks kept) with these embeddings and head: copies trained, rows replaced. */
    Transformer applyTo(Transformer model) {
        Transformer.EmbeddingGrads grads = embedCopy == null && headCopy == null ? null : new Transformer.EmbeddingGrads(embedGrad, null, headGrad);
        return model.withEmbeddings(embedCopy != null ? embedCopy : model.tokenEmbedding(), headCopy != null ? headCopy : model.head(), grads, embedRows, headRows);
    }

    /** The trained tensors and their gradients, under PEFT's names (the module's, without base_model.model.). */
    List<Parameter> parameters(Transformer base) {
        List<Parameter> out = new ArrayList<>();
        String embed = embedModule(base);
        if (embedCopy != null) out.add(new Parameter(embed + ".weight", embedCopy.heapArray(), embedGrad));
        if (headCopy != null) out.add(new Parameter(HEAD + ".weight", headCopy.heapArray(), headGrad));
        if (embedRows != null) out.add(new Parameter(embed + ROWS, embedRows.values(), embedRows.grad()));
        if (headRows != null && headRows != embedRows) out.add(new Parameter(HEAD + ROWS, headRows.values(), headRows.grad()));
        return out;
    }

    long trainableParameters(Transformer base) {
        return parameters(base).stream().mapToLong(p -> p.value().length).sum();
    }

    void zeroGrad(Transformer base) {
        for (Parameter p : parameters(base)) Arrays.fill(p.grad(), 0f);
    }

    /**
     * The tensors to save, by PEFT key, with their shapes: the rows (k, C), the copies (V, C). A tied head's rows are written
     * under lm_head's key too, as PEFT writes the head's tied adapter (the same values).
     */
    Map<String, Tensor> tensors(Transformer base, String prefix) {
        Map<String, Tensor> out = new LinkedHashMap<>();
        int dim = base.config().dim();
        for (Parameter p : parameters(base)) out.put(prefix + p.name(), Tensor.of(p.name(), p.value(), p.value().length / dim, dim));
        if (embedRows != null && headRows == embedRows)
            out.put(prefix + HEAD + ROWS, Tensor.of(HEAD + ROWS, embedRows.values(), embedRows.ids().length, dim));
        return out;
    }

    /** Whether the head's rows are the embedding's (a tied model): a saved lm_head rows tensor then repeats the embedding's. */
    boolean tiedRows() {
        return embedRows != null && headRows == embedRows;
    }

    /**
     * The merged checkpoint's embedding and head (tensor name → values): the copies, or the base's tensor with its rows
     * replaced. A copy in a tied model unties the embedding from the head, which a tied checkpoint cannot hold: refused.
     */
    public Map<String, float[]> mergedWeights(Transformer base) {
        Map<String, float[]> out = new LinkedHashMap<>();
        boolean tied = base.head() == base.tokenEmbedding();
        if ((headCopy != null || embedCopy != null) && tied)
            throw new Lora4jException("this adapter trains a copy of " + (headCopy != null ? "lm_head" : "the input embedding") + " of a base model that ties"
                    + " its head to its input embedding, which unties them: a merged checkpoint would need the two apart; use the adapter unmerged (eval, generate --adapter)");
        if (embedCopy != null) out.put(base.tokenEmbedding().name(), embedCopy.heapArray().clone());
        if (headCopy != null) out.put(base.head().name(), headCopy.heapArray().clone());
        if (embedRows != null) out.put(base.tokenEmbedding().name(), withRows(base.tokenEmbedding(), embedRows));
        if (headRows != null && headRows != embedRows) out.put(base.head().name(), withRows(base.head(), headRows));
        return out;
    }

    private static float[] withRows(Tensor t, TokenRows rows) {
        float[] w = t.toArray().clone();
        int dim = rows.values().length / rows.ids().length;
        for (int s = 0; s < rows.ids().length; s++) System.arraycopy(rows.values(), s * dim, w, rows.ids()[s] * dim, dim);
        return w;
    }

    /** PEFT keys (without base_model.model.) of the tensors this configuration saves, for telling them from LoRA's. */
    static boolean isKey(Transformer base, String key) {
        String embed = embedModule(base);
        return key.equals(embed + ".weight") || key.equals(HEAD + ".weight") || key.equals(embed + ROWS) || key.equals(HEAD + ROWS);
    }
}
