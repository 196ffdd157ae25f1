import type { Migration } from '../framework/define-projection';
import { EMBEDDING_DIMENSIONS } from './memory.schemas';

/**
 * Seed 004: memory nodes with a vector(1024) embedding (BGE-M3), each owned by exactly one scope —
 * a user (personal) or a tenant (enterprise) — enforced by a CHECK constraint, searched by cosine
 * distance through an HNSW index, and only ever within one scope (memory.similar_nodes).
 *
 * Applied with search_path = <schema>, public (pgvector lives in public); the search function pins
 * that search path when it is created, so it reads the projection's own schema wherever it is called.
 */
export const MEMORY_MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'memory nodes, scope constraint, HNSW index, scoped similarity search',
    sql: `
      CREATE TABLE nodes (
        id text PRIMARY KEY CONSTRAINT nodes_id_check CHECK (length(id) BETWEEN 1 AND 255),
        user_id uuid,
        tenant_id uuid,
        kind text NOT NULL,
        content text NOT NULL,
        metadata jsonb NOT NULL DEFAULT '{}',
        embedding vector(${EMBEDDING_DIMENSIONS}) NOT NULL,
        created_at timestamptz,
        updated_at timestamptz,
        -- the source table the node came from: "<schema>.memory_nodes" (captured) or "import.nodes"
        origin text NOT NULL,
        _source_key text NOT NULL,
        _source_lsn bigint NOT NULL,
        -- a node belongs to exactly one scope: personal (user) or enterprise (tenant), never both, never none
        CONSTRAINT nodes_scope_check CHECK ((user_id IS NULL) <> (tenant_id IS NULL))
      );
      COMMENT ON CONSTRAINT nodes_scope_check ON nodes IS 'exactly one of user_id (personal) or tenant_id (enterprise) is set';
      CREATE INDEX nodes_user_idx ON nodes (user_id, created_at) WHERE user_id IS NOT NULL;
      CREATE INDEX nodes_tenant_idx ON nodes (tenant_id, created_at) WHERE tenant_id IS NOT NULL;
      CREATE INDEX nodes_origin_idx ON nodes (origin);
      CREATE INDEX nodes_embedding_hnsw ON nodes USING hnsw (embedding vector_cosine_ops);

      -- An update that leaves a TOASTed embedding or content unchanged does not carry it, so the
      -- upsert leaves the column out; but INSERT … ON CONFLICT checks NOT NULL on the proposed row
      -- before it finds the conflict. This fills the proposed row from the stored node (the update
      -- then leaves the column alone), so NOT NULL only rejects a node that was never stored whole.
      CREATE FUNCTION nodes_keep_unchanged() RETURNS trigger
      LANGUAGE plpgsql
      SET search_path FROM CURRENT
      AS $fn$
      DECLARE
        stored record;
      BEGIN
        IF NEW.embedding IS NULL OR NEW.content IS NULL THEN
          SELECT n.embedding, n.content INTO stored FROM nodes n WHERE n.id = NEW.id;
          IF FOUND THEN
            NEW.embedding := COALESCE(NEW.embedding, stored.embedding);
            NEW.content := COALESCE(NEW.content, stored.content);
          END IF;
        END IF;
        RETURN NEW;
      END
      $fn$;
      CREATE TRIGGER nodes_keep_unchanged BEFORE INSERT ON nodes FOR EACH ROW EXECUTE FUNCTION nodes_keep_unchanged();

      -- The k nodes nearest to query by cosine distance, within one scope only: pass exactly one of
      -- p_user / p_tenant. Iterative HNSW scans (pgvector 0.8) keep a selective scope filter from
      -- starving the result of rows; strict order keeps it sorted by distance.
      CREATE FUNCTION similar_nodes(query vector, p_user uuid, p_tenant uuid, k integer DEFAULT 10)
      RETURNS TABLE (id text, user_id uuid, tenant_id uuid, kind text, content text, metadata jsonb, distance double precision)
      LANGUAGE plpgsql STABLE
      SET search_path FROM CURRENT
      SET hnsw.iterative_scan = strict_order
      AS $fn$
      BEGIN
        IF (p_user IS NULL) = (p_tenant IS NULL) THEN
          RAISE EXCEPTION 'similar_nodes: pass exactly one scope, p_user or p_tenant'
            USING ERRCODE = '22023';
        END IF;
        IF k IS NULL OR k < 1 THEN
          RAISE EXCEPTION 'similar_nodes: k must be at least 1' USING ERRCODE = '22023';
        END IF;
        IF p_user IS NOT NULL THEN
          RETURN QUERY
            SELECT n.id, n.user_id, n.tenant_id, n.kind, n.content, n.metadata, n.embedding <=> query
              FROM nodes n
             WHERE n.user_id = p_user
             ORDER BY n.embedding <=> query
             LIMIT k;
        ELSE
          RETURN QUERY
            SELECT n.id, n.user_id, n.tenant_id, n.kind, n.content, n.metadata, n.embedding <=> query
              FROM nodes n
             WHERE n.tenant_id = p_tenant
             ORDER BY n.embedding <=> query
             LIMIT k;
        END IF;
      END
      $fn$;
    `,
  },
  {
    version: 2,
    name: 'HNSW index built after the initial load (deferredIndexes)',
    sql: `DROP INDEX IF EXISTS nodes_embedding_hnsw;`,
  },
];

/**
 * Inserting into an HNSW index costs about five times more than building it once over the loaded
 * rows, so the projector builds it when it first catches up with its log (and a replay before its swap).
 */
export const MEMORY_DEFERRED_INDEXES = [
  {
    name: 'nodes_embedding_hnsw',
    sql: 'CREATE INDEX IF NOT EXISTS nodes_embedding_hnsw ON nodes USING hnsw (embedding vector_cosine_ops)',
  },
];
