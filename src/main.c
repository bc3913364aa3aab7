#include "core/core.h"
#include <stdio.h>
int main(void)
{
    char id[RT_ULID_LEN + 1];
    rt_ulid_new(rt_time_ms(), id);
    printf("%s\n", id);
    return 0;
}
