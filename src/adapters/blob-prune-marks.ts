/**
 * {@link PruneMarks} on blob index tags. It gets its own container client because, in Azure, tags go through the
 * prune identity (`KVGUARD_PRUNE_CLIENT_ID`), the only one holding `…/blobs/tags/write` on the backup container, and
 * only for kvguard's two tag keys; kvguard's own identity keeps its create-only rights. Set Blob Tags changes no
 * content nor metadata, so WORM allows it; the storage account's lifecycle rule does the deleting.
 */
import type { ContainerClient } from '@azure/storage-blob';
import { PRUNABLE_TAG, type PruneMarks } from '../core/retention/marks';
import { inventoryBlobName, LAYOUT_ROOTS } from './blob-layout';
import { storageError, storageStatus } from './storage-errors';

/** Tags backups (and their inventories) prunable for the lifecycle rule, through the container client it is given. */
export class BlobPruneMarks implements PruneMarks {
  /** @param container - the backup container, reached as the identity allowed to tag */
  constructor(private readonly container: ContainerClient) {}

  /** Tags a backup and its inventory prunable; idempotent, but `since` is rewritten by each pass. */
  async markPrunable(backupBlobName: string, since: Date): Promise<void> {
    const tags = { [PRUNABLE_TAG.name]: PRUNABLE_TAG.value, [PRUNABLE_TAG.since]: since.toISOString() };
    for (const blobName of [backupBlobName, inventoryBlobName(backupBlobName)]) {
      try {
        await this.container.getBlobClient(blobName).setTags(tags);
      } catch (error) {
        // A backup taken before inventories were kept has none; the backup's own tag is what matters.
        if (storageStatus(error) === 404 && blobName !== backupBlobName) continue;
        throw storageError(error, `tag ${blobName}`);
      }
    }
  }

  /**
   * Writes the newest-listed backup's own tags back unchanged: it takes the tag write right (and the tag-key
   * condition) to succeed, yet marks nothing new. Undefined when the container holds no backup yet.
   */
  async checkTagging(): Promise<{ blobName: string } | undefined> {
    let blobName: string | undefined;
    try {
      const pages = this.container.listBlobsFlat({ prefix: LAYOUT_ROOTS.backups }).byPage({ maxPageSize: 1 });
      const first = await pages.next();
      blobName = first.done ? undefined : first.value.segment.blobItems[0]?.name;
    } catch (error) {
      throw storageError(error, `list ${LAYOUT_ROOTS.backups}`);
    }
    if (blobName === undefined) return undefined;
    try {
      const blob = this.container.getBlobClient(blobName);
      await blob.setTags((await blob.getTags()).tags);
    } catch (error) {
      throw storageError(error, `rewrite the tags of ${blobName}`);
    }
    return { blobName };
  }
}
