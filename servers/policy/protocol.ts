// The policy server's wire protocol. Replies: label 0 or an error number (../errno.ts).

export const PolicyOp = {
  /** [frames] -> [frames guaranteed]: the caller's task asks for a guarantee of `frames` */
  Negotiate: 0x5501,
} as const;
