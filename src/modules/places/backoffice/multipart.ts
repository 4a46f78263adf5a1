/**
 * The places back office's uploads: the platform's multipart/form-data parser
 * (src/platform/http/multipart.ts) and this module's size limits.
 */
export { acceptMultipart, parseMultipart, uploadedFile, type MultipartBody, type UploadedFile } from '../../../platform/http/multipart.ts';

/** Largest file a back-office form may upload: an import file (bigger ones go through `maillage import`). */
export const IMPORT_UPLOAD_BYTES = 50 * 1024 * 1024;
/** A mapping file (JSON, a few kilobytes). */
export const MAPPING_UPLOAD_BYTES = 2 * 1024 * 1024;
