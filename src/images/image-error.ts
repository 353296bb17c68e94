// What the image checks and the pipeline throw: the contract's field error codes for images.

export type ImageErrorCode = 'invalid_image' | 'file_too_large' | 'image_too_large';

export class ImageError extends Error {
  override name = 'ImageError';
  readonly code: ImageErrorCode;

  constructor(code: ImageErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

/** Django's wording, plus the formats that are accepted, so a HEIC from a phone says what to send. */
export const INVALID_IMAGE_MESSAGE =
  'Upload a valid image (JPEG, PNG, GIF, WebP, HEIC or AVIF). The file you uploaded was either not an image or a corrupted image.';

export const invalid = (): never => {
  throw new ImageError('invalid_image', INVALID_IMAGE_MESSAGE);
};
