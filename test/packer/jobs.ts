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
  createdAt: string;
  finishedAt: string | null;
  channels: ChannelJson[];
}

export interface ErrorJson {
  error: { code: string; message: string; details?: { field?: string } };
}
