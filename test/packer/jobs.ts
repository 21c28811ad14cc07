/** Shapes of the packer API's JSON, as the tests read them. */
export interface ChannelJson {
  channel: string;
  state: string;
  attempts: number;
  error: { code: string; message: string } | null;
  output: { key: string; size: number; sha256: string; url: string | null } | null;
}

export interface JobJson {
  id: string;
  status: string;
  apk: string;
  upload: { target: string; prefix: string };
  extras: Record<string, string>;
  createdAt: string;
  finishedAt: string | null;
  counts: Record<string, number> & { total: number };
  seq: number;
  channels: ChannelJson[];
  nextCursor: string | null;
}

export interface ErrorJson {
  error: {
    code: string;
    message: string;
    details?: { field?: string };
    requestId?: string;
  };
}
